// Translations: one dictionary per language (i18n/zh.json, i18n/en.json), Simplified Chinese
// by default, the choice remembered in localStorage.

const KEY = "console.lang";
const LANGS = { zh: "zh-CN", en: "en" };
const dicts = {};
let current = LANGS[localStorage.getItem(KEY)] ? localStorage.getItem(KEY) : "zh";

async function load(lang) {
  if (!dicts[lang]) {
    const r = await fetch(`i18n/${lang}.json`, { cache: "no-cache" });
    dicts[lang] = await r.json();
  }
}
await load(current);

// lang is the current language code: "zh" or "en".
export function lang() { return current; }
// locale is the BCP 47 tag for Intl formatting.
export function locale() { return LANGS[current]; }

// setLang switches the language and remembers the choice.
export async function setLang(l) {
  await load(l);
  current = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = LANGS[l];
}
document.documentElement.lang = LANGS[current];

// t translates a key; {name} placeholders are filled from vars. A missing key shows itself,
// so a gap is visible rather than blank.
export function t(key, vars) {
  let s = dicts[current][key] ?? dicts.zh?.[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// pick chooses between a Chinese and an English text from the server (alarm titles, outcomes).
export function pick(zh, en) { return current === "en" ? (en || zh) : (zh || en); }

// translateStatic fills every [data-i18n] element under root from the dictionary.
export function translateStatic(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}
