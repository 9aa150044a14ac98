// Modal dialogs: the one-time secret dialog (full keys, codes) and a confirmation.
// A secret lives only in this dialog's DOM and closure: nothing stores it, and closing removes both.

import { h } from "./dom.js";
import { t } from "./i18n.js";

function openDialog(dialog, onClosed) {
  document.body.append(dialog);
  dialog.addEventListener("close", () => {
    dialog.remove();
    onClosed();
  });
  dialog.showModal();
  return dialog;
}

// Shows each secret once with a Copy button; resolves when the dialog is closed.
export function showSecrets(title, secrets, explanation) {
  return new Promise((resolve) => {
    let held = [...secrets];
    const rows = held.map((secret, index) => {
      const output = h("output", { class: "secret", "data-secret": index }, secret);
      const status = h("span", { class: "copied", role: "status" });
      const copy = h(
        "button",
        {
          type: "button",
          class: "secondary",
          "aria-label": held.length > 1 ? t("Copy key {n}", { n: index + 1 }) : "Copy",
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(held[index]);
              status.textContent = t("Copied");
            } catch {
              status.textContent = t("Copy failed: select the key and copy it by hand");
            }
          },
        },
        "Copy",
      );
      return h("li", {}, output, h("span", { class: "secret-actions" }, copy, status));
    });
    const copyAll =
      held.length > 1
        ? h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: async (event) => {
                await navigator.clipboard.writeText(held.join("\n"));
                event.target.textContent = t("Copied all");
              },
            },
            "Copy all",
          )
        : null;
    const dialog = h(
      "dialog",
      { class: "secret-dialog", "aria-labelledby": "secret-title" },
      h("h2", { id: "secret-title" }, title),
      h("p", {}, explanation),
      h("ul", { class: "secrets" }, rows),
      h(
        "form",
        { method: "dialog", class: "actions" },
        copyAll,
        h("button", { type: "submit", value: "done" }, "Done, I have copied it"),
      ),
    );
    openDialog(dialog, () => {
      held = [];
      resolve();
    });
  });
}

// Resolves true when the user confirms.
export function confirmAction(title, text, confirmLabel = "Delete") {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm-dialog", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, text),
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { type: "submit", value: "cancel", class: "secondary", autofocus: true }, "Cancel"),
        h("button", { type: "submit", value: "confirm", class: "danger" }, confirmLabel),
      ),
    );
    openDialog(dialog, () => resolve(dialog.returnValue === "confirm"));
  });
}

// A dialog around a form (Edit); the builder gets `close` to call after a successful save.
export function formDialog(title, build) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "form-dialog", "aria-labelledby": "form-dialog-title" });
    const close = (value) => {
      dialog.returnValue = value || "";
      dialog.close();
    };
    dialog.append(
      h("h2", { id: "form-dialog-title" }, title),
      build(close),
    );
    openDialog(dialog, () => resolve(dialog.returnValue));
  });
}
