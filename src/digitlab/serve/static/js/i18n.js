// Languages: the page's words in English or Slovenian, and numbers written the language's way.
//
// The page (index.html) is written in English; the server sends it with <html lang> set to the
// reader's language (their earlier choice, `digitlab serve --lang`, else the browser's). Before
// anything is drawn this module loads that language's `lab` catalog (GET /api/i18n/{lang}:
// {language, plural_forms, messages}) and translates the page's marked elements: `data-i18n`
// (the inner HTML is the message) and `data-i18n-attrs="title aria-label"`. What the scripts
// write goes through `_()`, `ngettext()` and `say()`; `say(element, () => text)` remembers how
// a text was made, so that the SL / EN switch (`useLanguage`) rewrites every text of every tab,
// and `onLanguage(fn)` redraws what is painted (charts, canvases). Messages hold `{name}`
// placeholders filled from an object, as in the Python code: `_("{n} of {total}", {n, total})`.

export const LANGUAGES = ["sl", "en"];
export const SOURCE_LANGUAGE = "en";
const COOKIE = "digitlab_lang"; // read by the server too: its messages come in this language
const COOKIE_DAYS = 365;

/** Each language's plural rule: n -> the index of the form to use (gettext's Plural-Forms).
 * Slovenian has four, by the last two digits: 1 števka, 2 števki, 3 števke, 5 števk. */
export const PLURAL_RULES = {
  en: (n) => (n === 1 ? 0 : 1),
  sl: (n) => {
    const last = Math.abs(n) % 100;
    return last === 1 ? 0 : last === 2 ? 1 : last === 3 || last === 4 ? 2 : 3;
  },
};

let language = SOURCE_LANGUAGE;
let messages = {};
let plural = PLURAL_RULES.en;
const listeners = new Set();
const sources = new WeakMap(); // a data-i18n element -> its English {html, attrs}
const producers = new WeakMap(); // an element written by say() -> {content, attributes}
const formats = new Map(); // `${language}/${digits}` -> Intl.NumberFormat
const missing = new Set(); // messages of the page not found in the catalog (for the tests)

export const currentLanguage = () => language;

function fill(text, params) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The message in the page's language, its `{name}` placeholders filled from `params`. */
export function _(message, params = null) {
  const found = messages[message];
  return fill(typeof found === "string" && found ? found : message, params);
}

/** Marks a message for the catalog without translating it (it is translated where shown). */
export const N_ = (message) => message;

/** A message whose translation depends on where it is used (gettext's msgctxt). */
export function pgettext(context, message, params = null) {
  const found = messages[`${context}\u0004${message}`];
  return fill(typeof found === "string" && found ? found : message, params);
}

/** The form of a message for the count `n` ({n} is filled in, written the language's way). */
export function ngettext(singular, pluralMessage, n, params = null) {
  const forms = messages[singular];
  const index = plural(n);
  const text = Array.isArray(forms) && forms[index] ? forms[index] : n === 1 ? singular : pluralMessage;
  return fill(text, { n: number(n), ...params });
}

/** A number the language's way: 1234.5 -> "1,234.5" / "1.234,5"; `digits`: that many
 * decimals (null: as many as it has, 0.0003 -> "0.0003", up to 12 significant digits). */
export function number(value, digits = null) {
  const key = `${language}/${digits}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.NumberFormat(language, digits === null
      ? { maximumSignificantDigits: 12 } : { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  }
  return formats.get(key).format(value);
}

/** A number to `digits` significant digits: 5 -> "5.00", 1.3247 -> "1.32" ("1,32"). */
export function significant(value, digits = 3) {
  const key = `${language}/significant ${digits}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.NumberFormat(language, {
      minimumSignificantDigits: digits, maximumSignificantDigits: digits, useGrouping: false }));
  }
  return formats.get(key).format(value);
}

/** A share as a percentage: 0.987 -> "98.7 %" / "98,7 %" (a no-break space before the sign). */
export function percent(share, digits = 0) {
  return `${number(100 * share, digits)}\u00a0%`;
}

/**
 * Set `element`'s text (or, with `attribute`, that attribute; with `html`, its inner HTML) to
 * `text`, a string or a function that makes it; the function runs again whenever the language
 * changes, so the text follows the switch.
 */
export function say(element, text, { attribute = null, html = false } = {}) {
  if (!element) return;
  const make = typeof text === "function" ? text : () => text;
  let entry = producers.get(element);
  if (!entry) {
    entry = { content: null, attributes: new Map() };
    producers.set(element, entry);
    element.setAttribute("data-i18n-live", "");
  }
  if (attribute) {
    entry.attributes.set(attribute, make);
    element.setAttribute(attribute, make());
  } else {
    entry.content = { make, html };
    writeContent(element, entry.content);
  }
}

function writeContent(element, { make, html }) {
  if (html) element.innerHTML = make();
  else element.textContent = make();
}

/** Everything `say` wrote into `element`, made again (in the language now spoken). */
function rewrite(element) {
  const entry = producers.get(element);
  if (!entry) return;
  if (entry.content) writeContent(element, entry.content);
  for (const [name, make] of entry.attributes) element.setAttribute(name, make());
}

/** Call `listener(language)` after every change of language (to redraw what is painted). */
export function onLanguage(listener) {
  listeners.add(listener);
}

const collapse = (text) => text.replace(/[ \t\n\r\f]+/g, " ").trim();

/** Translate the page's marked elements (their English is kept, to translate them again). */
function translatePage() {
  for (const element of document.querySelectorAll("[data-i18n], [data-i18n-attrs]")) {
    if (!sources.has(element)) {
      const attrs = (element.dataset.i18nAttrs || "").split(/\s+/).filter(Boolean)
        .map((name) => [name, collapse(element.getAttribute(name) || "")]);
      sources.set(element, { html: element.hasAttribute("data-i18n") ? collapse(element.innerHTML) : null, attrs });
    }
    const source = sources.get(element);
    const written = producers.get(element);
    if (source.html !== null && !written?.content) element.innerHTML = lookUp(source.html);
    for (const [name, text] of source.attrs) {
      if (text && !written?.attributes.has(name)) element.setAttribute(name, lookUp(text));
    }
  }
}

function lookUp(text) {
  if (language !== SOURCE_LANGUAGE && typeof messages[text] !== "string") missing.add(text);
  return _(text);
}

/** Messages of the page its catalog lacks (for the tests: none, in a translated language). */
export const untranslated = () => [...missing];

const catalogs = new Map(); // language -> its catalog, loaded once

async function load(lang) {
  if (!catalogs.has(lang)) {
    const response = await fetch(`/api/i18n/${encodeURIComponent(lang)}`);
    if (!response.ok) throw new Error(`no catalog for the language ${lang} (${response.status})`);
    catalogs.set(lang, await response.json());
  }
  return catalogs.get(lang);
}

/**
 * Speak `lang` from now on: load its catalog, translate the page and rewrite every text said
 * (`remember`: it is the reader's choice, kept for a year in a cookie the server reads too).
 */
export async function useLanguage(lang, { remember = false } = {}) {
  const catalog = await load(lang);
  language = catalog.language;
  messages = catalog.messages || {};
  plural = PLURAL_RULES[language] || PLURAL_RULES.en;
  missing.clear();
  document.documentElement.lang = language;
  if (remember) {
    document.cookie = `${COOKIE}=${language}; path=/; max-age=${COOKIE_DAYS * 86400}; SameSite=Strict`;
  }
  translatePage();
  document.querySelectorAll("[data-i18n-live]").forEach(rewrite);
  for (const listener of listeners) listener(language);
  for (const button of document.querySelectorAll("[data-language]")) {
    button.setAttribute("aria-pressed", String(button.dataset.language === language));
  }
}

/** The SL / EN switch: buttons with `data-language`. */
export function setupLanguageSwitch() {
  for (const button of document.querySelectorAll("[data-language]")) {
    button.setAttribute("aria-pressed", String(button.dataset.language === language));
    button.addEventListener("click", () => {
      if (button.dataset.language !== language) {
        useLanguage(button.dataset.language, { remember: true }).catch((error) => console.warn(error.message));
      }
    });
  }
}

// Before any other module runs: the page in its language (shown once translated).
try {
  const asked = document.documentElement.lang;
  await useLanguage(LANGUAGES.includes(asked) ? asked : SOURCE_LANGUAGE);
} catch (error) {
  console.warn(error.message); // the page stays in English
} finally {
  document.documentElement.classList.remove("translating");
}
