// Log in and register: the two pages a signed-out visitor sees.

import { post } from "../api.js";
import { field, formError, h, input, onSubmit } from "../dom.js";
import { session } from "../app.js";

function credentialsFields(newPassword) {
  return [
    field("User name", "username", input({ autocomplete: "username", required: true, maxlength: 64 })),
    field(
      "Password",
      "password",
      input({
        type: "password",
        autocomplete: newPassword ? "new-password" : "current-password",
        required: true,
        minlength: newPassword ? 8 : null,
      }),
      newPassword ? "At least 8 characters." : null,
    ),
  ];
}

export function loginPage(registration) {
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    formError(),
    credentialsFields(false),
    h("button", { type: "submit" }, "Log in"),
    registration !== "closed"
      ? h("p", { class: "muted" }, "No account yet? ", h("a", { href: "#/register" }, "Register"))
      : null,
  );
  return onSubmit(form, async (data) => {
    session.started(await post("/auth/login", { username: data.get("username"), password: data.get("password") }));
  });
}

export function registerPage(registration) {
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "register-title" },
    h("h1", { id: "register-title" }, "Register"),
    formError(),
    credentialsFields(true),
    registration === "invite"
      ? field("Invitation code", "invite_code", input({ required: true }), "Registration is by invitation.")
      : null,
    h("button", { type: "submit" }, "Register"),
    h("p", { class: "muted" }, "Have an account? ", h("a", { href: "#/login" }, "Log in")),
  );
  return onSubmit(form, async (data) => {
    const body = { username: data.get("username"), password: data.get("password") };
    if (registration === "invite") body.invite_code = data.get("invite_code");
    session.started(await post("/auth/register", body));
  });
}
