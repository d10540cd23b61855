// CSV for analytics exports: RFC 4180 (CRLF line ends, a header row, fields with a comma, a double quote,
// CR or LF enclosed in double quotes, a double quote doubled), safe to open in a spreadsheet: a text cell
// beginning with = + - @ (or a tab or carriage return, which some spreadsheets skip before reading a
// formula) is prefixed with a single quote, so it is shown as text, never evaluated (OWASP "CSV
// injection"). Numbers are written as numbers (a negative uplift stays -0.02); null is an empty cell.

export type CsvCell = string | number | boolean | null;

const FORMULA_START = /^[=+\-@\t\r]/;

/** One field, quoted and neutralised as needed. */
export function csvField(value: CsvCell): string {
  if (value === null) return '';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return '';
    return String(value);
  }
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A CSV document: the header row, then one row per record, each line ending CRLF. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return [header, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}
