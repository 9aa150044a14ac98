"""What customers can buy: the models their groups reach, at their prices."""
