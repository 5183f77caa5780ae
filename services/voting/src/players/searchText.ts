/**
 * The form of a city or country that filters compare: accents and case folded away and spaces
 * collapsed, so `bogota`, ` BOGOTÁ ` and `Bogotá` are one city. Done in JS (NFD, then combining marks
 * dropped) and stored next to the original, so PostgreSQL needs no `unaccent` extension and an index
 * on the folded column serves the filter.
 */
export function foldForSearch(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().trim().replace(/\s+/g, ' ');
}
