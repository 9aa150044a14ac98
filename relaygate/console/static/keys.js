// Full keys this browser tab has just seen (created, rotated or revealed), offered by the Playground.
// They live in this module's memory only: never localStorage or sessionStorage; a reload forgets them.

const held = new Map();

export function rememberKey(label, key) {
  held.set(key, label);
}

// [[key, label], ...], newest last.
export function rememberedKeys() {
  return [...held.entries()];
}

export function forgetKeys() {
  held.clear();
}
