/**
 * Paths in reports relative to the config's folder (the repository): `loop.config.yaml:54`, not
 * `/home/runner/work/app/loop.config.yaml:54`, so artifacts of the same run on two machines differ
 * only in what was measured. Pure string work on posix paths.
 */

/** Every occurrence of `root/…` in `text` as `…` (and `root` itself as `.`); `file://` URLs of them too. */
export function relativizeText(text: string, root: string): string {
  const r = root.replace(/\/+$/, '');
  if (r === '' || !text.includes(r)) return text;
  const esc = r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Only whole path components: `/work/app` must not rewrite `/work/apple`.
  return text.replace(new RegExp(`(?:file://)?${esc}(?:/|(?![\\w.-]))`, 'g'), (m) => (m.endsWith('/') ? '' : '.'));
}

/** A copy of `value` with relativizeText applied to every string in it; keys (check names) are left alone. */
export function relativizePaths<T>(value: T, root: string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return relativizeText(v, root);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
