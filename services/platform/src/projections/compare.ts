import type { Knex } from 'knex';

export interface RowDifference {
  readonly key: Record<string, unknown>;
  /** column → both values, only for the columns that differ */
  readonly columns: Record<string, { live: unknown; rebuilt: unknown }>;
}

/** How a rebuilt table differs from the live one, row for row on the compared columns. */
export interface TableDiff {
  readonly liveRows: number;
  readonly rebuiltRows: number;
  /** rows in the live table the rebuild does not have */
  readonly missing: number;
  /** rows the rebuild has that the live table does not */
  readonly extra: number;
  /** rows in both whose compared columns differ */
  readonly different: number;
  readonly comparedColumns: readonly string[];
  readonly columnsOnlyInLive: readonly string[];
  readonly columnsOnlyInRebuilt: readonly string[];
  readonly examples: {
    readonly missing: readonly Record<string, unknown>[];
    readonly extra: readonly Record<string, unknown>[];
    readonly different: readonly RowDifference[];
  };
}

export function isIdentical(diff: TableDiff): boolean {
  return diff.missing === 0 && diff.extra === 0 && diff.different === 0 && diff.columnsOnlyInLive.length === 0 && diff.columnsOnlyInRebuilt.length === 0;
}

function splitTable(table: string): { schema: string; name: string } {
  const [schema, name] = table.split('.');
  if (!schema || !name) throw new Error(`expected a schema-qualified table name, got ${table}`);
  return { schema, name };
}

async function columnsOf(db: Knex, table: string): Promise<string[]> {
  const { schema, name } = splitTable(table);
  const rows = (await db('information_schema.columns')
    .where({ table_schema: schema, table_name: name })
    .orderBy('ordinal_position')
    .select('column_name')) as { column_name: string }[];
  if (rows.length === 0) throw new Error(`table ${table} does not exist`);
  return rows.map((r) => r.column_name);
}

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/**
 * Compares two tables row for row (full outer join on the key; `is distinct from` on every other
 * column both have, except the ignored ones) and returns counts and a few examples of each kind.
 */
export async function compareTables(
  db: Knex,
  options: { live: string; rebuilt: string; key: readonly string[]; ignore?: readonly string[]; examples?: number },
): Promise<TableDiff> {
  // one query at a time: `db` may be a transaction (one connection)
  const liveColumns = await columnsOf(db, options.live);
  const rebuiltColumns = await columnsOf(db, options.rebuilt);
  const ignored = new Set(options.ignore ?? []);
  for (const k of options.key) {
    if (!liveColumns.includes(k) || !rebuiltColumns.includes(k)) throw new Error(`key column ${k} is missing from ${options.live} or ${options.rebuilt}`);
  }
  const compared = rebuiltColumns.filter((c) => liveColumns.includes(c) && !options.key.includes(c) && !ignored.has(c));
  const onlyLive = liveColumns.filter((c) => !rebuiltColumns.includes(c) && !ignored.has(c));
  const onlyRebuilt = rebuiltColumns.filter((c) => !liveColumns.includes(c) && !ignored.has(c));
  const k0 = quote(options.key[0]!);
  const on = options.key.map((k) => `l.${quote(k)} = r.${quote(k)}`).join(' and ');
  const differs =
    compared.length === 0
      ? 'false'
      : `row(${compared.map((c) => `l.${quote(c)}`).join(', ')}) is distinct from row(${compared.map((c) => `r.${quote(c)}`).join(', ')})`;
  const from = `from ${options.live} l full join ${options.rebuilt} r on ${on}`;
  const { rows } = (await db.raw(
    `select count(l.${k0})::int as live_rows, count(r.${k0})::int as rebuilt_rows,
            count(*) filter (where r.${k0} is null)::int as missing,
            count(*) filter (where l.${k0} is null)::int as extra,
            count(*) filter (where l.${k0} is not null and r.${k0} is not null and ${differs})::int as different
     ${from}`,
  )) as { rows: { live_rows: number; rebuilt_rows: number; missing: number; extra: number; different: number }[] };
  const counts = rows[0]!;
  const limit = options.examples ?? 5;
  const order = options.key.map((k) => `coalesce(l.${quote(k)}, r.${quote(k)})`).join(', ');
  const examples = async (where: string) =>
    ((await db.raw(`select to_jsonb(l) as live, to_jsonb(r) as rebuilt ${from} where ${where} order by ${order} limit ${limit}`)) as {
      rows: { live: Record<string, unknown> | null; rebuilt: Record<string, unknown> | null }[];
    }).rows;
  const missing = counts.missing > 0 ? await examples(`r.${k0} is null`) : [];
  const extra = counts.extra > 0 ? await examples(`l.${k0} is null`) : [];
  const different = counts.different > 0 ? await examples(`l.${k0} is not null and r.${k0} is not null and ${differs}`) : [];
  return {
    liveRows: counts.live_rows,
    rebuiltRows: counts.rebuilt_rows,
    missing: counts.missing,
    extra: counts.extra,
    different: counts.different,
    comparedColumns: compared,
    columnsOnlyInLive: onlyLive,
    columnsOnlyInRebuilt: onlyRebuilt,
    examples: {
      missing: missing.map((r) => r.live!),
      extra: extra.map((r) => r.rebuilt!),
      different: different.map(({ live, rebuilt }) => ({
        key: Object.fromEntries(options.key.map((k) => [k, live![k]])),
        columns: Object.fromEntries(
          compared
            .filter((c) => JSON.stringify(live![c]) !== JSON.stringify(rebuilt![c]))
            .map((c) => [c, { live: live![c], rebuilt: rebuilt![c] }]),
        ),
      })),
    },
  };
}

/** A readable summary of a comparison, for the replay's output. */
export function formatDiff(diff: TableDiff, labels: { live: string; rebuilt: string }): string {
  const lines: string[] = [];
  if (isIdentical(diff)) {
    lines.push(`identical: ${diff.rebuiltRows} rows, equal on the key and ${diff.comparedColumns.length} other columns`);
    return lines.join('\n');
  }
  lines.push(
    `${labels.live}: ${diff.liveRows} rows · ${labels.rebuilt}: ${diff.rebuiltRows} rows · ` +
      `${diff.missing} missing from the rebuild · ${diff.extra} extra in the rebuild · ${diff.different} different`,
  );
  if (diff.columnsOnlyInLive.length > 0) lines.push(`columns only in ${labels.live}: ${diff.columnsOnlyInLive.join(', ')}`);
  if (diff.columnsOnlyInRebuilt.length > 0) lines.push(`columns only in ${labels.rebuilt}: ${diff.columnsOnlyInRebuilt.join(', ')}`);
  const show = (value: unknown) => {
    const text = JSON.stringify(value);
    return text === undefined ? 'undefined' : text.length > 120 ? `${text.slice(0, 117)}...` : text;
  };
  if (diff.examples.missing.length > 0) {
    lines.push(`  missing (in ${labels.live}, not rebuilt), e.g.:`);
    for (const row of diff.examples.missing) lines.push(`    - ${show(row)}`);
  }
  if (diff.examples.extra.length > 0) {
    lines.push(`  extra (rebuilt, not in ${labels.live}), e.g.:`);
    for (const row of diff.examples.extra) lines.push(`    + ${show(row)}`);
  }
  if (diff.examples.different.length > 0) {
    lines.push('  different, e.g.:');
    for (const d of diff.examples.different) {
      lines.push(`    ~ ${show(d.key)}`);
      for (const [column, v] of Object.entries(d.columns)) lines.push(`        ${column}: ${show(v.live)} → ${show(v.rebuilt)}`);
    }
  }
  return lines.join('\n');
}
