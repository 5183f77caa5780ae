import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { templatePath, type CfnResource, type CfnTemplate, type CfnValue } from './template';

/**
 * Readers for the checks in the tests: they look at a template the way CloudFormation would (resources by
 * type, what a Ref/GetAtt points at, what a `${Prefix}-…` name is), independently of the generators.
 */

/** Parses a template file, failing on any YAML error or warning (e.g. a short-form `!Ref` tag slipping in). */
export function loadTemplate(file: string): CfnTemplate {
  const document = parseDocument(readFileSync(templatePath(file), 'utf8'));
  const problems = [...document.errors, ...document.warnings].map((e) => e.message);
  if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
  return document.toJS() as CfnTemplate;
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** The one resource of a type in a template (throws when there are none or several). */
export function single(template: CfnTemplate, type: string): CfnResource {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]![1];
}

export type Json = CfnValue | undefined;
export const asRecord = (value: Json): Record<string, Json> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, Json>) : {};
export const asArray = (value: Json): Json[] => (Array.isArray(value) ? (value as Json[]) : value === undefined ? [] : [value]);
export const prop = (resource: CfnResource | undefined, name: string): Json => resource?.Properties?.[name];

/** The logical id a `{Ref: X}` or `{Fn::GetAtt: [X, attr]}` points at. */
export function target(value: Json): string | undefined {
  const record = asRecord(value);
  if (typeof record.Ref === 'string') return record.Ref;
  const getAtt = record['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

/** The text of a `Fn::Sub` (or a plain string). */
export function subText(value: Json): string | undefined {
  if (typeof value === 'string') return value;
  const sub = asRecord(value)['Fn::Sub'];
  if (typeof sub === 'string') return sub;
  if (Array.isArray(sub) && typeof sub[0] === 'string') return sub[0];
  return undefined;
}

/** `{Fn::Sub: '${Prefix}-catalog'}` → `catalog`; anything else → undefined. */
export function prefixedName(value: Json): string | undefined {
  return /^\$\{Prefix\}-(.+)$/.exec(subText(value) ?? '')?.[1];
}

/** The topology name at the end of an SNS/SQS ARN or queue URL built with `${Prefix}-<name>`. */
export function arnName(value: Json, service: 'sns' | 'sqs'): string | undefined {
  const text = subText(value) ?? '';
  const arn = new RegExp(`^arn:\\$\\{AWS::Partition\\}:${service}:\\$\\{AWS::Region\\}:\\$\\{AWS::AccountId\\}:\\$\\{Prefix\\}-([a-z0-9-]+)$`).exec(text);
  if (arn) return arn[1];
  if (service === 'sqs') return /^https:\/\/sqs\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}\/\$\{AWS::AccountId\}\/\$\{Prefix\}-([a-z0-9-]+)$/.exec(text)?.[1];
  return undefined;
}

/** IAM statements of a role's inline policies, as plain records (a conditional statement counts as present). */
export function roleStatements(role: CfnResource | undefined): Record<string, Json>[] {
  return asArray(prop(role, 'Policies'))
    .flatMap((policy) => asArray(asRecord(asRecord(policy).PolicyDocument).Statement))
    .map((statement) => {
      const conditional = asRecord(statement)['Fn::If'];
      return asRecord(Array.isArray(conditional) ? (conditional[1] as Json) : statement);
    })
    .filter((statement) => Object.keys(statement).length > 0);
}

/** IAM actions of a statement, always as a list. */
export const actionsOf = (statement: Record<string, Json>): string[] => asArray(statement.Action).filter((a): a is string => typeof a === 'string');
