// Small string helpers that run in linear time on any input. A regular expression such as
// /\/+$/ or /^[-.]+|[-.]+$/ is quadratic on a long run of the repeated character followed by
// something else (the engine retries from every position), and these strings can come from
// clients, configuration or a cloud's answers. `npm run lint` keeps such patterns out of src/.

/** `text` without the characters of `chars` at its start and end. */
export function trimChars(text: string, chars: string, { start = true, end = true } = {}): string {
  let from = 0;
  let to = text.length;
  if (start) while (from < to && chars.includes(text[from])) from++;
  if (end) while (to > from && chars.includes(text[to - 1])) to--;
  return text.slice(from, to);
}

/** `url` without trailing slashes. */
export const trimTrailingSlashes = (url: string): string => trimChars(url, '/', { start: false });

/** The lines of `text` trimmed and joined by single spaces, empty lines dropped. */
export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}
