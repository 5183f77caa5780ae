import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { storage } from '@anb/contracts';
import { asArray, asRecord, loadTemplate, prefixedName, prop, resourcesOfType, single, subText, target, type Json } from './inspect';
import { templateFiles, templatesDir, type CfnParameter } from './template';

/** The hand-written templates and how main.yaml wires the nested stacks together. */

describe('template set', () => {
  test('every file in infra/cloudformation is a known template, and parses as plain YAML (long-form intrinsics only)', () => {
    const files = readdirSync(templatesDir).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(files, [...templateFiles].sort());
    for (const file of templateFiles) loadTemplate(file); // throws on a YAML error or an unknown (short-form) tag
  });

  test('every template names resources with the same Prefix parameter', () => {
    const reference = loadTemplate('messaging.yaml').Parameters!.Prefix!;
    for (const file of templateFiles) {
      const prefix = loadTemplate(file).Parameters?.Prefix;
      assert.ok(prefix, `${file} has a Prefix parameter`);
      assert.equal(prefix.AllowedPattern, reference.AllowedPattern, `${file} Prefix pattern`);
    }
  });
});

describe('main.yaml wires the nested stacks', () => {
  const main = loadTemplate('main.yaml');
  const stacks = resourcesOfType(main, 'AWS::CloudFormation::Stack');

  test('one nested stack per template beside it', () => {
    const urls = stacks.map(([, s]) => String(prop(s, 'TemplateURL'))).sort();
    assert.deepEqual(urls, templateFiles.filter((f) => f !== 'main.yaml').map((f) => `./${f}`).sort());
  });

  for (const [id, stack] of stacks) {
    test(`${id}: passes every parameter its template needs and no other`, () => {
      const child = loadTemplate(String(prop(stack, 'TemplateURL')).replace('./', ''));
      const passed = asRecord(prop(stack, 'Parameters'));
      const childParameters = child.Parameters ?? {};
      for (const name of Object.keys(passed)) assert.ok(name in childParameters, `${id} passes unknown parameter ${name}`);
      for (const [name, spec] of Object.entries(childParameters)) {
        if (spec.Default === undefined) assert.ok(name in passed, `${id} must pass ${name} (no default)`);
      }
    });

    test(`${id}: a root parameter passed through unchanged has the child's exact definition (no drifting defaults)`, () => {
      const child = loadTemplate(String(prop(stack, 'TemplateURL')).replace('./', ''));
      for (const [name, value] of Object.entries(asRecord(prop(stack, 'Parameters')))) {
        const rootName = target(value);
        const root = main.Parameters?.[rootName ?? ''];
        if (!root || asRecord(value).Ref === undefined || rootName !== name) continue;
        const required = child.Parameters![name]!.Default === undefined;
        // a child parameter without a default (e.g. Prefix) takes whatever the root decides
        const comparable = (p: CfnParameter) => ({
          Type: p.Type,
          Default: required || p.Default === undefined ? undefined : String(p.Default),
          AllowedValues: p.AllowedValues?.map(String),
          MinValue: p.MinValue,
          MaxValue: p.MaxValue,
        });
        assert.deepEqual(comparable(root), comparable(child.Parameters![name]!), `${id}.${name}`);
      }
    });
  }

  test('services start after the messaging and storage they address by name', () => {
    const services = main.Resources.Services!;
    assert.deepEqual(asArray(services.DependsOn as Json).sort(), ['Messaging', 'Storage']);
  });
});

describe('storage.yaml equals the topology storage data', () => {
  const template = loadTemplate('storage.yaml');

  test('videos bucket: <Prefix>-videos, public access blocked, SSE, TLS only, originals/ expire after a parameter', () => {
    const bucket = single(template, 'AWS::S3::Bucket');
    assert.equal(prefixedName(prop(bucket, 'BucketName')), storage.bucket.name);
    assert.deepEqual(prop(bucket, 'PublicAccessBlockConfiguration'), {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const sse = asArray(asRecord(prop(bucket, 'BucketEncryption')).ServerSideEncryptionConfiguration).map(asRecord);
    assert.equal(asRecord(sse[0]?.ServerSideEncryptionByDefault).SSEAlgorithm, 'AES256');
    const rules = asArray(asRecord(prop(bucket, 'LifecycleConfiguration')).Rules).map(asRecord);
    const expiry = rules.find((r) => r.Prefix === storage.bucket.originalsPrefix);
    assert.equal(expiry?.Status, 'Enabled');
    const days = target(expiry?.ExpirationInDays);
    assert.equal(template.Parameters?.[days ?? '']?.Default, storage.bucket.originalsExpireDays, 'default expiry = topology data');
    assert.ok(!rules.some((r) => r.Prefix === storage.bucket.processedPrefix), 'processed videos never expire');

    const policy = single(template, 'AWS::S3::BucketPolicy');
    const deny = asArray(asRecord(prop(policy, 'PolicyDocument')).Statement).map(asRecord)[0];
    assert.equal(deny?.Effect, 'Deny');
    assert.deepEqual(asRecord(asRecord(deny?.Condition).Bool), { 'aws:SecureTransport': 'false' });
  });

  test('job ledger: <Prefix>-processing-jobs, PK videoId (S), TTL expiresAt, PAY_PER_REQUEST', () => {
    const table = single(template, 'AWS::DynamoDB::Table');
    assert.equal(prefixedName(prop(table, 'TableName')), storage.jobLedger.name);
    assert.equal(prop(table, 'BillingMode'), 'PAY_PER_REQUEST');
    assert.deepEqual(prop(table, 'KeySchema'), [{ AttributeName: storage.jobLedger.partitionKey, KeyType: 'HASH' }]);
    assert.deepEqual(prop(table, 'AttributeDefinitions'), [{ AttributeName: storage.jobLedger.partitionKey, AttributeType: 'S' }]);
    assert.deepEqual(prop(table, 'TimeToLiveSpecification'), { AttributeName: storage.jobLedger.ttlAttribute, Enabled: true });
  });
});

describe('network, edge and database', () => {
  test('network: public and private subnets in two AZs, private egress through NAT', () => {
    const network = loadTemplate('network.yaml');
    const subnets = resourcesOfType(network, 'AWS::EC2::Subnet');
    assert.equal(subnets.length, 4);
    const azIndex = (value: Json) => asArray(asRecord(value)['Fn::Select'])[0];
    assert.deepEqual(subnets.map(([, s]) => azIndex(prop(s, 'AvailabilityZone'))).sort(), [0, 0, 1, 1]);
    const privateRoutes = resourcesOfType(network, 'AWS::EC2::Route').filter(([, r]) => prop(r, 'NatGatewayId') !== undefined);
    assert.equal(privateRoutes.length, 2, 'each private route table has a NAT default route');
  });

  test('edge: /health on the gateway port; HTTP redirects to HTTPS only with a certificate', () => {
    const edge = loadTemplate('edge.yaml');
    const group = single(edge, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.equal(prop(group, 'HealthCheckPath'), '/health');
    assert.equal(prop(group, 'Port'), 8080);
    assert.equal(prop(group, 'TargetType'), 'ip');
    const http = resourcesOfType(edge, 'AWS::ElasticLoadBalancingV2::Listener').find(([, l]) => prop(l, 'Port') === 80)![1];
    const [condition, withCertificate, without] = asArray(asRecord(prop(http, 'DefaultActions'))['Fn::If']);
    assert.equal(condition, 'HasCertificate');
    assert.equal(asRecord(asArray(withCertificate)[0]).Type, 'redirect');
    assert.equal(asRecord(asRecord(asArray(withCertificate)[0]).RedirectConfig).Protocol, 'HTTPS');
    assert.equal(asRecord(asArray(without)[0]).Type, 'forward');
    const https = resourcesOfType(edge, 'AWS::ElasticLoadBalancingV2::Listener').find(([, l]) => prop(l, 'Port') === 443)![1];
    assert.equal(https.Condition, 'HasCertificate');
    const alarms = resourcesOfType(edge, 'AWS::CloudWatch::Alarm').map(([, a]) => a);
    const metrics = alarms.flatMap((a) => [prop(a, 'MetricName'), ...asArray(prop(a, 'Metrics')).map((m) => asRecord(asRecord(asRecord(m).MetricStat).Metric).MetricName)]);
    for (const metric of ['HTTPCode_Target_5XX_Count', 'HTTPCode_ELB_5XX_Count', 'RequestCount', 'UnHealthyHostCount', 'HealthyHostCount']) {
      assert.ok(metrics.includes(metric), `an ALB alarm watches ${metric}`);
    }
  });

  test('database: private, encrypted, credentials generated into Secrets Manager', () => {
    const database = loadTemplate('database.yaml');
    const instance = single(database, 'AWS::RDS::DBInstance');
    assert.equal(prop(instance, 'Engine'), 'postgres');
    assert.equal(prop(instance, 'StorageEncrypted'), true);
    assert.equal(prop(instance, 'PubliclyAccessible'), false);
    assert.match(subText(prop(instance, 'MasterUserPassword')) ?? '', /^\{\{resolve:secretsmanager:\$\{DatabaseSecret\}:SecretString:password\}\}$/);
    const secret = single(database, 'AWS::SecretsManager::Secret');
    assert.equal(asRecord(prop(secret, 'GenerateSecretString')).GenerateStringKey, 'password');
    assert.equal(instance.DeletionPolicy, 'Snapshot');
  });
});
