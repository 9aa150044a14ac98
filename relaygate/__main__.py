from relaygate.cli.main import main

main()
