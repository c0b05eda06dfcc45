/**
 * What the edge page and the cloud page share: HTML escaping, the start
 * of the document (head, dark theme, header rules), left inside an open
 * `<style>` so each page adds its own layout rules, its end (scripts), and
 * the start of a page script.
 *
 * @module
 */

/** `s` safe inside HTML text and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The document from `<!doctype html>` to the shared theme rules, inside an
 * open `<style>` element.
 *
 * @example Usage
 * ```ts
 * import { documentStart } from "./page_head.ts";
 * documentStart("flvcast edge").includes("<title>flvcast edge</title>"); // true
 * ```
 */
export function documentStart(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>
:root { color-scheme: dark; --bg: #111418; --panel: #1b2027; --line: #2c333d;
  --text: #e6e9ee; --dim: #98a2b3; --accent: #4da3ff; --bad: #ff6b6b; --good: #5fd38d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; align-items: baseline; gap: 12px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
header small, .dim { color: var(--dim); }
`;
}

/** The header's version tag, or nothing. */
export function versionTag(version: string | undefined): string {
  return version ? ` <small>${escapeHtml(version)}</small>` : "";
}

/**
 * The end of the document: the page's scripts, in order, and the closing
 * tags.
 */
export function documentEnd(scripts: string[]): string {
  return scripts.map((src) => `<script src="${src}"></script>\n`).join("") +
    "</body>\n</html>\n";
}

/**
 * The start of a page script (classic script, ES2017): strict mode, an
 * IIFE the script closes with `})();`, and `$` for `getElementById`.
 */
export const SCRIPT_START = `"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
`;
