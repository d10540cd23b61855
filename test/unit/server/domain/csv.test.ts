import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { csvField, toCsv } from '#server/domain/csv.ts';

/** A minimal RFC 4180 reader, to check what the writer wrote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (ch === '"') quoted = false; else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; } else if (ch === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 1; } else field += ch;
  }
  return rows;
}

describe('CSV', () => {
  it('writes a header row and CRLF-terminated records', () => {
    expect(toCsv(['a', 'b'], [[1, 'x'], [null, true]])).toBe('a,b\r\n1,x\r\n,true\r\n');
  });

  it('quotes fields holding a comma, a quote, CR or LF, doubling the quotes (RFC 4180)', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });

  it('neutralises text that a spreadsheet would read as a formula', () => {
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-2')).toBe("'-2");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\t=1')).toBe("'\t=1");
  });

  it('writes numbers as numbers, negative ones too, and nothing for a non-finite one', () => {
    expect(csvField(-0.025)).toBe('-0.025');
    expect(csvField(Number.NaN)).toBe('');
  });

  it('round-trips any text through an RFC 4180 reader, never starting a cell with a formula character', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.string(), { minLength: 2, maxLength: 2 }), { maxLength: 5 }), (rows) => {
      const parsed = parseCsv(toCsv(['x', 'y'], rows));
      expect(parsed[0]).toEqual(['x', 'y']);
      parsed.slice(1).forEach((row, i) => {
        row.forEach((cell, j) => {
          expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
          const original = rows[i]![j]!;
          expect(cell === original || cell === `'${original}`).toBe(true);
        });
      });
    }));
  });
});
