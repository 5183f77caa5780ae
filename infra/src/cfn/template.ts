import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

/**
 * CloudFormation templates as plain data. Every template in infra/cloudformation/ uses the long-form
 * intrinsic functions (`Ref`, `Fn::Sub`, `Fn::GetAtt` as maps), never the `!Sub` short tags, so the
 * `yaml` package parses and prints them with no custom tags and a test can read any template.
 */
export type CfnValue = string | number | boolean | readonly CfnValue[] | { readonly [key: string]: CfnValue };

export interface CfnParameter {
  readonly Type: string;
  readonly Description?: string;
  readonly Default?: string | number;
  readonly AllowedValues?: readonly (string | number)[];
  readonly AllowedPattern?: string;
  readonly ConstraintDescription?: string;
  readonly MinValue?: number;
  readonly MaxValue?: number;
  readonly MinLength?: number;
  readonly MaxLength?: number;
}

export interface CfnResource {
  readonly Type: string;
  readonly Condition?: string;
  readonly DependsOn?: string | readonly string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Properties?: { readonly [key: string]: CfnValue };
}

export interface CfnOutput {
  readonly Description?: string;
  readonly Condition?: string;
  readonly Value: CfnValue;
}

export interface CfnTemplate {
  readonly AWSTemplateFormatVersion: '2010-09-09';
  readonly Description: string;
  readonly Metadata?: { readonly [key: string]: CfnValue };
  readonly Parameters?: { readonly [name: string]: CfnParameter };
  readonly Conditions?: { readonly [name: string]: CfnValue };
  readonly Resources: { readonly [logicalId: string]: CfnResource };
  readonly Outputs?: { readonly [name: string]: CfnOutput };
}

// ── intrinsic functions (long form) ─────────────────────────────────────────────────────────────
export const ref = (name: string) => ({ Ref: name });
export const getAtt = (logicalId: string, attribute: string) => ({ 'Fn::GetAtt': [logicalId, attribute] });
export const sub = (text: string) => ({ 'Fn::Sub': text });
export const ifCondition = (condition: string, whenTrue: CfnValue, whenFalse: CfnValue) => ({ 'Fn::If': [condition, whenTrue, whenFalse] });
export const noValue = { Ref: 'AWS::NoValue' };
export const notEmpty = (parameter: string) => ({ 'Fn::Not': [{ 'Fn::Equals': [ref(parameter), ''] }] });

/** `catalog-events` → `CatalogEvents`, `video-catalog` → `VideoCatalog`: CloudFormation logical ids. */
export function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** The folder holding every template. */
export const templatesDir = fileURLToPath(new URL('../../cloudformation/', import.meta.url));
export const templatePath = (file: string) => `${templatesDir}${file}`;

/** Every template file the deployment uses (main.yaml is the root; the others are its nested stacks). */
export const templateFiles = [
  'main.yaml',
  'network.yaml',
  'observability.yaml',
  'edge.yaml',
  'messaging.yaml',
  'storage.yaml',
  'database.yaml',
  'services.yaml',
] as const;

/** Prints a generated template: a header saying where it comes from, then stable YAML (no line folding). */
export function renderTemplate(template: CfnTemplate, source: string): string {
  const header = [
    `# GENERATED from ${source} by \`node --import tsx infra/src/cfn/generate.ts\` — do not edit by hand.`,
    '# infra/src/cfn/*.test.ts fail when this file differs from what the generator prints.',
  ].join('\n');
  const body = stringify(template, { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false })
    // a YAML 1.1 reader (cfn-lint, the CloudFormation console) would read the bare version as a date
    .replace(/^AWSTemplateFormatVersion: 2010-09-09$/m, 'AWSTemplateFormatVersion: "2010-09-09"');
  return `${header}\n${body}`;
}
