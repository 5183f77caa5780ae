/**
 * timestamptz as PostgreSQL writes it (DateStyle ISO: `2026-11-26 22:35:31.123456+00`, the offset
 * `+05:30` or `-03` in other time zones) read by position into a Date, with node-postgres's own parser
 * (postgres-date) for anything else: years before 1000 or after 9999, BC, `infinity`, an offset with
 * seconds. The same Date in a third of the time (~0.25 µs against ~0.75 alone; 112 ms of voting's CPU profile
 * in 8 s of votes was postgres-date): every event a service reads or appends carries its
 * recorded_at, three parses per vote in voting (pgTimestamps.test.ts compares the two).
 */
export function fastTimestampParser(fallback: (text: string) => unknown): (text: string) => unknown {
  return (text) => {
    const length = text.length;
    if (
      length < 22 ||
      text.charCodeAt(4) !== 45 || // -
      text.charCodeAt(7) !== 45 ||
      text.charCodeAt(10) !== 32 || // space
      text.charCodeAt(13) !== 58 || // :
      text.charCodeAt(16) !== 58
    ) {
      return fallback(text);
    }
    const year = digits(text, 0, 4);
    const month = digits(text, 5, 2);
    const day = digits(text, 8, 2);
    const hour = digits(text, 11, 2);
    const minute = digits(text, 14, 2);
    const second = digits(text, 17, 2);
    if (year < 1000 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return fallback(text);
    let i = 19;
    let millis = 0;
    if (text.charCodeAt(i) === 46) {
      // .f to .ffffff: the milliseconds, their fraction kept as postgres-date keeps it (Date drops it)
      let scale = 100;
      i++;
      const start = i;
      for (; i < length; i++) {
        const c = text.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        millis += c * scale;
        scale /= 10;
      }
      if (i === start || i - start > 6) return fallback(text);
    }
    // the offset: ±HH or ±HH:MM, and nothing after it
    const sign = text.charCodeAt(i);
    if ((sign !== 43 && sign !== 45) || (length !== i + 3 && length !== i + 6)) return fallback(text);
    const offsetHours = digits(text, i + 1, 2);
    let offsetMinutes = 0;
    if (length === i + 6) {
      if (text.charCodeAt(i + 3) !== 58) return fallback(text);
      offsetMinutes = digits(text, i + 4, 2);
    }
    if (offsetHours < 0 || offsetMinutes < 0) return fallback(text);
    const offsetMs = (sign === 45 ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
    return new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMs);
  };
}

/** the number written by `count` ASCII digits at `start`, or -1 */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}
