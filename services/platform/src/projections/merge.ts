import type { Knex } from 'knex';

export interface MergeRowsOptions<Row> {
  /** the key column (one column) */
  readonly key: string;
  /** its SQL type, e.g. `uuid` */
  readonly keyType: string;
  /** the keys this batch touches */
  readonly keys: readonly string[];
  /** column → SQL type of every column `merge` writes (the key included) */
  readonly columns: Readonly<Record<string, string>>;
  /** the new row from the current one (`undefined` columns of a row created for this batch are null) */
  readonly merge: (current: Row, key: string) => Row;
}

/**
 * Read–merge–write of a batch of rows, three statements whatever the batch size: make sure a row exists
 * for every key, lock them in key order (so two writers touching the same rows cannot deadlock), compute
 * each new row in JS, write them back with one UPDATE. Projections that aggregate a batch in memory use
 * it to apply thousands of events with one write per row; the row locks keep concurrent writers of the
 * same rows (a consumer and a subscriber, say) from losing each other's updates.
 */
export async function mergeRows<Row extends object>(trx: Knex.Transaction, table: string, options: MergeRowsOptions<Row>): Promise<void> {
  if (options.keys.length === 0) return;
  const keys = JSON.stringify([...new Set(options.keys)].sort());
  const key = options.key;
  await trx.raw(
    `insert into ${table} (??) select value::${options.keyType} from jsonb_array_elements_text(?::jsonb) order by 1 on conflict (??) do nothing`,
    [key, keys, key],
  );
  const { rows } = (await trx.raw(
    `select * from ${table} where ?? in (select value::${options.keyType} from jsonb_array_elements_text(?::jsonb)) order by ?? for update`,
    [key, keys, key],
  )) as { rows: Row[] };
  const merged = rows.map((row) => options.merge(row, String((row as Record<string, unknown>)[key])) as Record<string, unknown>);
  const columns = Object.keys(options.columns);
  const assignments = columns.filter((c) => c !== key).map((c) => `"${c}" = v."${c}"`);
  const definition = columns.map((c) => `"${c}" ${options.columns[c]}`).join(', ');
  await trx.raw(
    `update ${table} as t set ${assignments.join(', ')} from jsonb_to_recordset(?::jsonb) as v(${definition}) where t.?? = v.??`,
    [JSON.stringify(merged.map((row) => Object.fromEntries(columns.map((c) => [c, row[c] ?? null])))), key, key],
  );
}
