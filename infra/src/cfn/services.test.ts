import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { dlqName, queueOfConsumer, serviceNames, storage, topicOfProducer, type ServiceName } from '@anb/contracts';
import { actionsOf, arnName, asArray, asRecord, loadTemplate, prefixedName, prop, resourcesOfType, roleStatements, subText, target, type Json } from './inspect';
import { serviceCommand } from './services';
import type { CfnResource } from './template';

/**
 * services.yaml read as CloudFormation would, compared with the topology and the brief: what each
 * container runs and reads, and what each task role may do. Independent of the generator's code.
 */
const template = loadTemplate('services.yaml');
const resources = template.Resources;
const parameters = template.Parameters ?? {};

const ports: Record<ServiceName, number> = { gateway: 8080, auth: 8081, 'video-catalog': 8082, voting: 8083, processing: 8084 };
const postgresServices: ServiceName[] = ['auth', 'video-catalog', 'voting'];

interface Deployed {
  taskDefinitionId: string;
  taskDefinition: CfnResource;
  app: Record<string, Json>;
  collector: Record<string, Json>;
  serviceId: string;
  service: CfnResource;
  taskRole: CfnResource;
  executionRole: CfnResource;
}

/** Finds a service's task definition by the command its app container runs, then everything hanging off it. */
function deployed(name: ServiceName): Deployed {
  const entrypoint = `services/${name}/src/main.ts`;
  const matches = resourcesOfType(template, 'AWS::ECS::TaskDefinition').filter(([, td]) =>
    asArray(prop(td, 'ContainerDefinitions')).some((c) => asArray(asRecord(c).Command).includes(entrypoint)),
  );
  assert.equal(matches.length, 1, `one task definition runs ${entrypoint}`);
  const [taskDefinitionId, taskDefinition] = matches[0]!;
  const containers = asArray(prop(taskDefinition, 'ContainerDefinitions')).map(asRecord);
  const app = containers.find((c) => asArray(c.Command).includes(entrypoint))!;
  const collector = containers.find((c) => c !== app)!;
  const services = resourcesOfType(template, 'AWS::ECS::Service').filter(([, s]) => target(prop(s, 'TaskDefinition')) === taskDefinitionId);
  assert.equal(services.length, 1, `one ECS service runs ${taskDefinitionId}`);
  const [serviceId, service] = services[0]!;
  return {
    taskDefinitionId,
    taskDefinition,
    app,
    collector,
    serviceId,
    service,
    taskRole: resources[target(prop(taskDefinition, 'TaskRoleArn'))!]!,
    executionRole: resources[target(prop(taskDefinition, 'ExecutionRoleArn'))!]!,
  };
}

const environment = (container: Record<string, Json>) =>
  new Map(asArray(container.Environment).map((e) => [String(asRecord(e).Name), asRecord(e).Value] as const));
const secrets = (container: Record<string, Json>) =>
  new Map(asArray(container.Secrets).map((e) => [String(asRecord(e).Name), asRecord(e).ValueFrom] as const));

describe('services.yaml: one Fargate service per microservice', () => {
  test('exactly the five services, each on its port with the single image and its own command', () => {
    assert.equal(resourcesOfType(template, 'AWS::ECS::Service').length, serviceNames.length);
    for (const name of serviceNames) {
      const { app, taskDefinition } = deployed(name);
      assert.deepEqual(app.Command, ['node', '--import', 'tsx', '--import', './observability/src/register.ts', `services/${name}/src/main.ts`]);
      assert.deepEqual(asArray(app.PortMappings).map((p) => asRecord(p).ContainerPort), [ports[name]]);
      assert.equal(subText(app.Image), '${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${EcrRepository}:${ImageTag}');
      assert.deepEqual(prop(taskDefinition, 'RequiresCompatibilities'), ['FARGATE']);
      assert.equal(prop(taskDefinition, 'NetworkMode'), 'awsvpc');
      assert.ok(JSON.stringify(asRecord(app.HealthCheck).Command).includes(`127.0.0.1:${ports[name]}/health`), `${name} container health check`);
    }
  });

  test('docker-compose runs every service with the same command as its ECS task', () => {
    const compose = parse(readFileSync(new URL('../../../docker-compose.yml', import.meta.url), 'utf8')) as { services: Record<string, { command?: string[] }> };
    for (const name of serviceNames) assert.deepEqual(compose.services[name]?.command, serviceCommand(name), name);
  });

  test('every task has an ADOT collector sidecar the app exports OTLP to', () => {
    const image = parameters.CollectorImage?.Default;
    assert.ok(String(image).startsWith('public.ecr.aws/aws-observability/aws-otel-collector:'), `collector image ${image}`);
    for (const name of serviceNames) {
      const { app, collector } = deployed(name);
      assert.equal(target(collector.Image), 'CollectorImage');
      assert.equal(environment(app).get('OTEL_EXPORTER_OTLP_ENDPOINT'), 'http://localhost:4318');
      // the config comes from the SSM parameter as AOT_CONFIG_CONTENT when one is given
      const configured = asRecord(collector.Secrets)['Fn::If'] as Json[];
      assert.equal(configured[0], 'HasCollectorConfig');
      assert.deepEqual(asArray(configured[1]).map((s) => asRecord(s).Name), ['AOT_CONFIG_CONTENT']);
      assert.deepEqual(asArray(app.DependsOn).map((d) => asRecord(d).ContainerName), [collector.Name]);
    }
  });

  test('the environment each container reads (common, Postgres, topology, storage, service-specific)', () => {
    for (const name of serviceNames) {
      const { app } = deployed(name);
      const env = environment(app);
      const secret = secrets(app);
      assert.equal(env.get('NODE_ENV'), 'production');
      assert.equal(env.get('PORT'), String(ports[name]));
      assert.equal(env.get('OTEL_SERVICE_NAME'), name);
      assert.deepEqual(env.get('AWS_REGION'), { Ref: 'AWS::Region' });
      assert.deepEqual(env.get('RESOURCE_PREFIX'), { Ref: 'Prefix' });
      assert.deepEqual(env.get('LOG_LEVEL'), { Ref: 'LogLevel' });

      const postgres = postgresServices.includes(name);
      for (const key of ['PGHOST', 'PGPORT', 'PGDATABASE', 'DATABASE_SSL']) assert.equal(env.has(key), postgres, `${name} ${key}`);
      if (postgres) {
        assert.equal(env.get('DATABASE_SSL'), 'true');
        assert.equal(subText(secret.get('PGUSER')), '${DatabaseSecretArn}:username::');
        assert.equal(subText(secret.get('PGPASSWORD')), '${DatabaseSecretArn}:password::');
      } else {
        assert.ok(!secret.has('PGUSER') && !secret.has('PGPASSWORD'), `${name} gets no database credentials`);
      }

      const topic = topicOfProducer(name);
      assert.equal(arnName(env.get('EVENTS_TOPIC_ARN'), 'sns'), topic?.name, `${name} EVENTS_TOPIC_ARN is its own topic`);
      const queue = queueOfConsumer(name);
      assert.equal(arnName(env.get('EVENTS_QUEUE_URL'), 'sqs'), queue?.name, `${name} EVENTS_QUEUE_URL is its own queue`);
      assert.equal(arnName(env.get('EVENTS_DLQ_URL'), 'sqs'), queue ? dlqName(queue) : undefined, `${name} EVENTS_DLQ_URL is its own DLQ`);

      // voting signs the links to processed videos in the public showcase (PublicVideo.processed_url)
      const usesBucket = name === 'video-catalog' || name === 'processing' || name === 'voting';
      assert.equal(prefixedName(env.get('VIDEOS_BUCKET')), usesBucket ? storage.bucket.name : undefined, `${name} VIDEOS_BUCKET`);
      assert.equal(prefixedName(env.get('JOBS_TABLE')), name === 'processing' ? storage.jobLedger.name : undefined, `${name} JOBS_TABLE`);
      assert.equal(env.has('PROCESSING_CONCURRENCY') && env.has('FFMPEG_PRESET'), name === 'processing');
      assert.equal(secret.has('AUTH_JWT_PRIVATE_KEY'), name === 'auth', `${name} AUTH_JWT_PRIVATE_KEY`);
      if (name === 'auth') assert.deepEqual(secret.get('AUTH_JWT_PRIVATE_KEY'), { Ref: 'JwtPrivateKeySecretArn' });
    }
  });

  test('the gateway reaches the services through Cloud Map names on their ports', () => {
    const env = environment(deployed('gateway').app);
    const namespace = resourcesOfType(template, 'AWS::ServiceDiscovery::PrivateDnsNamespace');
    assert.equal(namespace.length, 1);
    assert.equal(subText(prop(namespace[0]![1], 'Name')), '${Prefix}.internal');
    for (const [variable, service] of [['AUTH_URL', 'auth'], ['CATALOG_URL', 'video-catalog'], ['VOTING_URL', 'voting']] as const) {
      assert.equal(subText(env.get(variable)), `http://${service}.\${Prefix}.internal:${ports[service]}`);
      const registries = asArray(prop(deployed(service).service, 'ServiceRegistries')).map((r) => target(asRecord(r).RegistryArn));
      assert.equal(registries.length, 1, `${service} registers in Cloud Map`);
      const discovery = resources[registries[0]!]!;
      assert.equal(prop(discovery, 'Name'), service);
      assert.equal(target(prop(discovery, 'NamespaceId')), 'ServiceNamespace');
    }
  });

  test('only the gateway sits behind the ALB; no task gets a public IP', () => {
    for (const name of serviceNames) {
      const { service } = deployed(name);
      const balancers = asArray(prop(service, 'LoadBalancers')).map(asRecord);
      assert.equal(balancers.length, name === 'gateway' ? 1 : 0, `${name} load balancers`);
      if (name === 'gateway') assert.equal(balancers[0]!.ContainerPort, ports.gateway);
      const network = asRecord(asRecord(prop(service, 'NetworkConfiguration')).AwsvpcConfiguration);
      assert.equal(network.AssignPublicIp, 'DISABLED');
      assert.deepEqual(network.Subnets, { Ref: 'PrivateSubnetIds' });
    }
  });
});

describe('services.yaml: least-privilege task roles derived from the topology', () => {
  for (const name of serviceNames) {
    test(`${name} publishes only to its own topic and consumes only its own queue`, () => {
      const statements = roleStatements(deployed(name).taskRole);
      for (const statement of statements) {
        assert.equal(statement.Effect, 'Allow');
        for (const action of actionsOf(statement)) assert.ok(!action.endsWith('*'), `${name}: no wildcard action (${action})`);
      }
      const onService = (prefix: string) => statements.filter((s) => actionsOf(s).some((a) => a.startsWith(prefix)));

      const sns = onService('sns:');
      const topic = topicOfProducer(name);
      if (topic) {
        assert.deepEqual(sns.flatMap(actionsOf), ['sns:Publish']);
        assert.deepEqual(sns.flatMap((s) => asArray(s.Resource).map((r) => arnName(r, 'sns'))), [topic.name]);
      } else {
        assert.deepEqual(sns, [], `${name} publishes nothing`);
      }

      const sqs = onService('sqs:');
      const queue = queueOfConsumer(name);
      if (queue) {
        const consume = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage'];
        const consumedFrom = sqs.filter((s) => actionsOf(s).some((a) => consume.includes(a))).flatMap((s) => asArray(s.Resource).map((r) => arnName(r, 'sqs')));
        assert.deepEqual(consumedFrom, [queue.name], `${name} receives/deletes/changes visibility on ${queue.name} only`);
        assert.deepEqual(consume.filter((a) => sqs.flatMap(actionsOf).includes(a)), consume, `${name} can consume`);
        const touched = new Set(sqs.flatMap((s) => asArray(s.Resource).map((r) => arnName(r, 'sqs'))));
        assert.deepEqual([...touched].sort(), [queue.name, dlqName(queue)].sort(), `${name} touches its own queue and DLQ only`);
        assert.ok(!sqs.flatMap(actionsOf).includes('sqs:SendMessage'), `${name} never sends to a queue`);
      } else {
        assert.deepEqual(sqs, [], `${name} consumes nothing`);
      }
    });

    test(`${name} storage access: bucket prefixes and the job ledger only where needed`, () => {
      const statements = roleStatements(deployed(name).taskRole);
      const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
      const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      const objects = (action: string) =>
        s3
          .filter((s) => actionsOf(s).includes(action))
          .flatMap((s) => asArray(s.Resource).map((r) => /^arn:\$\{AWS::Partition\}:s3:::\$\{Prefix\}-videos\/(.*)$/.exec(subText(r) ?? '')?.[1]))
          .sort();
      const { originalsPrefix: originals, processedPrefix: processed } = storage.bucket;
      if (name === 'video-catalog') {
        assert.deepEqual(objects('s3:PutObject'), [`${originals}*`], 'the catalog uploads originals only');
        assert.deepEqual(objects('s3:GetObject'), [`${originals}*`, `${processed}*`]);
      } else if (name === 'processing') {
        assert.deepEqual(objects('s3:GetObject'), [`${originals}*`], 'processing reads originals');
        assert.deepEqual(objects('s3:PutObject'), [`${processed}*`], 'processing writes processed renditions only');
      } else if (name === 'voting') {
        assert.deepEqual(objects('s3:GetObject'), [`${processed}*`], 'voting signs links to processed videos');
        assert.deepEqual([...objects('s3:PutObject'), ...objects('s3:DeleteObject')], [], 'voting never writes or deletes videos');
      } else {
        assert.deepEqual(s3, [], `${name} has no S3 access`);
      }
      for (const statement of s3) {
        for (const resource of asArray(statement.Resource)) {
          assert.match(subText(resource) ?? '', /^arn:\$\{AWS::Partition\}:s3:::\$\{Prefix\}-videos(\/(originals|processed)\/\*)?$/);
        }
      }
      if (name === 'processing') {
        const tables = dynamo.flatMap((s) => asArray(s.Resource).map(subText));
        assert.deepEqual(tables, [`arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/\${Prefix}-${storage.jobLedger.name}`]);
      } else {
        assert.deepEqual(dynamo, [], `${name} has no DynamoDB access`);
      }
    });
  }

  test('task and execution roles may only be assumed by ECS tasks of this account', () => {
    for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
      const trust = asArray(asRecord(prop(role, 'AssumeRolePolicyDocument')).Statement).map(asRecord);
      assert.deepEqual(trust.map((s) => s.Principal), [{ Service: 'ecs-tasks.amazonaws.com' }], id);
      assert.deepEqual(asRecord(asRecord(trust[0]!.Condition).StringEquals)['aws:SourceAccount'], { Ref: 'AWS::AccountId' }, id);
    }
  });

  test('execution roles read only the secrets their service receives', () => {
    for (const name of serviceNames) {
      const { executionRole, app } = deployed(name);
      const readable = roleStatements(executionRole)
        .filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))
        .flatMap((s) => asArray(s.Resource).map(target))
        .sort();
      const injected = [...new Set([...secrets(app).values()].map((v) => target(v) ?? /^\$\{(\w+)\}/.exec(subText(v) ?? '')?.[1]))].sort();
      assert.deepEqual(readable, injected, `${name}`);
    }
  });
});

describe('services.yaml: autoscaling', () => {
  const policiesOf = (name: ServiceName) => {
    const { serviceId } = deployed(name);
    const targets = resourcesOfType(template, 'AWS::ApplicationAutoScaling::ScalableTarget').filter(([, t]) =>
      (subText(prop(t, 'ResourceId')) ?? '').includes(`\${${serviceId}.Name}`),
    );
    assert.equal(targets.length, 1, `${name} has one scalable target`);
    const [targetId, scalable] = targets[0]!;
    const policies = resourcesOfType(template, 'AWS::ApplicationAutoScaling::ScalingPolicy')
      .filter(([, p]) => target(prop(p, 'ScalingTargetId')) === targetId)
      .map(([, p]) => asRecord(prop(p, 'TargetTrackingScalingPolicyConfiguration')));
    return { scalable, policies };
  };

  test('every service scales between parameters defaulting to 1..N', () => {
    for (const name of serviceNames) {
      const { scalable } = policiesOf(name);
      const min = parameters[target(prop(scalable, 'MinCapacity'))!];
      const max = parameters[target(prop(scalable, 'MaxCapacity'))!];
      assert.equal(min?.Default, 1, `${name} min defaults to 1`);
      assert.ok(Number(max?.Default) >= 1, `${name} max is a parameter`);
    }
  });

  test('gateway on CPU and ALB requests per target; processing on queue backlog per task; the rest on CPU', () => {
    for (const name of serviceNames) {
      const { policies } = policiesOf(name);
      const predefined = policies.map((p) => asRecord(p.PredefinedMetricSpecification).PredefinedMetricType).filter(Boolean).sort();
      if (name === 'gateway') assert.deepEqual(predefined, ['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']);
      else if (name === 'processing') assert.deepEqual(predefined, []);
      else assert.deepEqual(predefined, ['ECSServiceAverageCPUUtilization']);
    }
    const { policies } = policiesOf('processing');
    assert.equal(policies.length, 1);
    const metrics = asArray(asRecord(policies[0]!.CustomizedMetricSpecification).Metrics).map(asRecord);
    const stat = (metric: string) => metrics.find((m) => asRecord(asRecord(m.MetricStat).Metric).MetricName === metric);
    const visible = stat('ApproximateNumberOfMessagesVisible');
    const tasks = stat('RunningTaskCount');
    assert.ok(visible && tasks, 'backlog = visible messages and running tasks');
    const queueDimension = asArray(asRecord(asRecord(visible.MetricStat).Metric).Dimensions).map(asRecord)[0];
    assert.equal(prefixedName(queueDimension?.Value), queueOfConsumer('processing')!.name, 'on processing’s own queue');
    const expression = metrics.find((m) => m.ReturnData === true);
    assert.match(String(expression?.Expression), new RegExp(`^${visible.Id} / .*${tasks.Id}`));
  });
});
