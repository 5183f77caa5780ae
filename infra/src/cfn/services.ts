import { dlqName, queueOfConsumer, storage, topicOfProducer, type ServiceName } from '@anb/contracts';
import { prefixed } from './messaging';
import { getAtt, ifCondition, noValue, notEmpty, pascal, ref, sub, type CfnParameter, type CfnResource, type CfnTemplate, type CfnValue } from './template';

/**
 * The compute stack: ECS cluster, Cloud Map namespace, and for every service a log group, an execution
 * role, a least-privilege task role, a task definition (app + ADOT collector sidecar), a Fargate
 * service and its autoscaling. The SNS/SQS grants come from the topology data (`topicOfProducer`,
 * `queueOfConsumer`), so a service may publish only to its own topic and consume only its own queue.
 */

type Scaling = 'cpu' | 'cpu-and-requests' | 'queue-backlog';

export interface ServiceDeployment {
  readonly name: ServiceName;
  readonly port: number;
  /** Fargate task size (the ADOT sidecar shares it) */
  readonly cpu: number;
  readonly memory: number;
  readonly maxTasks: number;
  readonly scaling: Scaling;
  /** reads the RDS secret and gets PG* variables */
  readonly postgres: boolean;
  /** registered in Cloud Map as `<name>.<Prefix>.internal` for the gateway to call */
  readonly discoverable: boolean;
  /** behind the ALB */
  readonly public: boolean;
  readonly securityGroup: 'GatewaySecurityGroupId' | 'BackendSecurityGroupId';
  /** S3 access to the videos bucket, by key prefix */
  readonly s3?: { readonly read: readonly string[]; readonly write: readonly string[]; readonly delete: readonly string[] };
  /** read/write on the DynamoDB job ledger */
  readonly jobLedger?: boolean;
}

const { originalsPrefix, processedPrefix } = storage.bucket;

export const deployments: readonly ServiceDeployment[] = [
  { name: 'gateway', port: 8080, cpu: 256, memory: 512, maxTasks: 4, scaling: 'cpu-and-requests', postgres: false, discoverable: false, public: true, securityGroup: 'GatewaySecurityGroupId' },
  { name: 'auth', port: 8081, cpu: 256, memory: 512, maxTasks: 2, scaling: 'cpu', postgres: true, discoverable: true, public: false, securityGroup: 'BackendSecurityGroupId' },
  {
    name: 'video-catalog',
    port: 8082,
    cpu: 512,
    memory: 1024,
    maxTasks: 3,
    scaling: 'cpu',
    postgres: true,
    discoverable: true,
    public: false,
    securityGroup: 'BackendSecurityGroupId',
    // uploads originals, signs download URLs for processed videos, deletes both when a video is deleted
    s3: { read: [originalsPrefix, processedPrefix], write: [originalsPrefix], delete: [originalsPrefix, processedPrefix] },
  },
  {
    name: 'voting',
    port: 8083,
    cpu: 256,
    memory: 512,
    maxTasks: 3,
    scaling: 'cpu',
    postgres: true,
    discoverable: true,
    public: false,
    securityGroup: 'BackendSecurityGroupId',
    // the public showcase answers with signed links to processed videos (PublicVideo.processed_url); read-only
    s3: { read: [processedPrefix], write: [], delete: [] },
  },
  {
    name: 'processing',
    port: 8084,
    cpu: 1024,
    memory: 2048,
    maxTasks: 5,
    scaling: 'queue-backlog',
    postgres: false,
    discoverable: false,
    public: false,
    securityGroup: 'BackendSecurityGroupId',
    // reads originals, writes processed renditions, removes them when a video is deleted
    s3: { read: [originalsPrefix], write: [processedPrefix], delete: [processedPrefix] },
    jobLedger: true,
  },
];

export function deployment(service: ServiceName): ServiceDeployment {
  const found = deployments.find((d) => d.name === service);
  if (!found) throw new Error(`no deployment for ${service}`);
  return found;
}

export const serviceIds = {
  logGroup: (d: ServiceDeployment) => `${pascal(d.name)}LogGroup`,
  executionRole: (d: ServiceDeployment) => `${pascal(d.name)}ExecutionRole`,
  taskRole: (d: ServiceDeployment) => `${pascal(d.name)}TaskRole`,
  taskDefinition: (d: ServiceDeployment) => `${pascal(d.name)}TaskDefinition`,
  service: (d: ServiceDeployment) => `${pascal(d.name)}Service`,
  discovery: (d: ServiceDeployment) => `${pascal(d.name)}DiscoveryService`,
  scalableTarget: (d: ServiceDeployment) => `${pascal(d.name)}ScalableTarget`,
  minTasks: (d: ServiceDeployment) => `${pascal(d.name)}MinTasks`,
  maxTasks: (d: ServiceDeployment) => `${pascal(d.name)}MaxTasks`,
};

export const appContainer = 'app';
export const collectorContainer = 'adot-collector';

/** The single image runs one service, chosen by this command (WORKDIR /app). */
export function serviceCommand(service: ServiceName): string[] {
  return ['node', '--import', 'tsx', '--import', './observability/src/register.ts', `services/${service}/src/main.ts`];
}

// ── ARNs and URLs built from the deterministic topology names (the stacks create exactly these) ──
const topicArn = (name: string) => sub(`arn:\${AWS::Partition}:sns:\${AWS::Region}:\${AWS::AccountId}:\${Prefix}-${name}`);
const queueArn = (name: string) => sub(`arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:\${Prefix}-${name}`);
const queueUrl = (name: string) => sub(`https://sqs.\${AWS::Region}.\${AWS::URLSuffix}/\${AWS::AccountId}/\${Prefix}-${name}`);
const bucketArn = (suffix = '') => sub(`arn:\${AWS::Partition}:s3:::\${Prefix}-${storage.bucket.name}${suffix}`);
const tableArn = () => sub(`arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/\${Prefix}-${storage.jobLedger.name}`);
const discoveryUrl = (service: ServiceName) => sub(`http://${service}.\${Prefix}.internal:${deployment(service).port}`);

function secretJsonKey(secretParameter: string, key: string): CfnValue {
  return sub(`\${${secretParameter}}:${key}::`);
}

const ecsTrust = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'ecs-tasks.amazonaws.com' },
      Action: 'sts:AssumeRole',
      // confused-deputy guard: only ECS acting for this account may assume the role
      Condition: {
        StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') },
        ArnLike: { 'aws:SourceArn': sub('arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*') },
      },
    },
  ],
};

/** The environment the app container reads, sorted by name. */
export function serviceEnvironment(d: ServiceDeployment): Record<string, CfnValue> {
  const env: Record<string, CfnValue> = {
    NODE_ENV: 'production',
    LOG_LEVEL: ref('LogLevel'),
    PORT: String(d.port),
    AWS_REGION: ref('AWS::Region'),
    RESOURCE_PREFIX: ref('Prefix'),
    SERVICE_VERSION: ref('ImageTag'),
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
    OTEL_SERVICE_NAME: d.name,
    OTEL_RESOURCE_ATTRIBUTES: sub('deployment.environment=${Prefix},service.namespace=anb'),
  };
  if (d.postgres) {
    env.PGHOST = ref('DatabaseEndpoint');
    env.PGPORT = ref('DatabasePort');
    env.PGDATABASE = ref('DatabaseName');
    env.DATABASE_SSL = 'true';
  }
  const topic = topicOfProducer(d.name);
  if (topic) env.EVENTS_TOPIC_ARN = topicArn(topic.name);
  const queue = queueOfConsumer(d.name);
  if (queue) {
    env.EVENTS_QUEUE_URL = queueUrl(queue.name);
    env.EVENTS_DLQ_URL = queueUrl(dlqName(queue));
  }
  if (d.s3) env.VIDEOS_BUCKET = prefixed(storage.bucket.name);
  if (d.jobLedger) env.JOBS_TABLE = prefixed(storage.jobLedger.name);
  if (d.name === 'processing') {
    env.PROCESSING_CONCURRENCY = ref('ProcessingConcurrency');
    env.FFMPEG_PRESET = ref('FfmpegPreset');
  }
  if (d.name === 'gateway') {
    env.AUTH_URL = discoveryUrl('auth');
    env.CATALOG_URL = discoveryUrl('video-catalog');
    env.VOTING_URL = discoveryUrl('voting');
  }
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => a.localeCompare(b)));
}

/** Secrets injected by ECS at task start (the execution role reads them; the app never calls Secrets Manager). */
export function serviceSecrets(d: ServiceDeployment): Record<string, CfnValue> {
  const secrets: Record<string, CfnValue> = {};
  if (d.postgres) {
    secrets.PGUSER = secretJsonKey('DatabaseSecretArn', 'username');
    secrets.PGPASSWORD = secretJsonKey('DatabaseSecretArn', 'password');
  }
  if (d.name === 'auth') secrets.AUTH_JWT_PRIVATE_KEY = ref('JwtPrivateKeySecretArn');
  return secrets;
}

function executionRole(d: ServiceDeployment): CfnResource {
  const secretArns: CfnValue[] = [];
  if (d.postgres) secretArns.push(ref('DatabaseSecretArn'));
  if (d.name === 'auth') secretArns.push(ref('JwtPrivateKeySecretArn'));
  const statements: CfnValue[] = [
    { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    {
      Sid: 'PullServiceImage',
      Effect: 'Allow',
      Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      Resource: sub('arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${EcrRepository}'),
    },
    {
      Sid: 'WriteContainerLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: getAtt(serviceIds.logGroup(d), 'Arn'),
    },
    ifCondition(
      'HasCollectorConfig',
      {
        Sid: 'ReadCollectorConfig',
        Effect: 'Allow',
        Action: 'ssm:GetParameters',
        Resource: sub('arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${CollectorConfigParameter}'),
      },
      noValue,
    ),
  ];
  if (secretArns.length > 0) {
    statements.push({ Sid: 'ReadInjectedSecrets', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArns });
  }
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: sub(`ECS agent for \${Prefix} ${d.name}: pull the image, write logs, read its secrets`),
      AssumeRolePolicyDocument: ecsTrust,
      Policies: [{ PolicyName: 'task-execution', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
}

/** What the running service (and its collector sidecar) may do: derived from the topology and the deployment table. */
export function taskRoleStatements(d: ServiceDeployment): CfnValue[] {
  const statements: CfnValue[] = [
    {
      Sid: 'CollectorTraces',
      Effect: 'Allow',
      Action: ['xray:GetSamplingRules', 'xray:GetSamplingStatisticSummaries', 'xray:GetSamplingTargets', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
      Resource: '*',
    },
    {
      // the ADOT collector's awsemf exporter writes metrics as embedded-metric-format logs here
      Sid: 'CollectorMetrics',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents', 'logs:PutRetentionPolicy'],
      Resource: sub('arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/ecs/application/metrics:*'),
    },
  ];
  const topic = topicOfProducer(d.name);
  if (topic) statements.push({ Sid: 'PublishOwnEvents', Effect: 'Allow', Action: 'sns:Publish', Resource: topicArn(topic.name) });
  const queue = queueOfConsumer(d.name);
  if (queue) {
    statements.push({
      Sid: 'ConsumeOwnQueue',
      Effect: 'Allow',
      Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
      Resource: queueArn(queue.name),
    });
    // depth of its own DLQ for the health report; moving messages back is an operator's job
    statements.push({ Sid: 'InspectOwnDeadLetterQueue', Effect: 'Allow', Action: 'sqs:GetQueueAttributes', Resource: queueArn(dlqName(queue)) });
  }
  if (d.s3) {
    const objects = (prefixes: readonly string[]) => prefixes.map((p) => bucketArn(`/${p}*`));
    if (d.s3.read.length > 0) statements.push({ Sid: 'ReadVideos', Effect: 'Allow', Action: 's3:GetObject', Resource: objects(d.s3.read) });
    if (d.s3.write.length > 0) {
      statements.push({
        Sid: 'WriteVideos',
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:PutObject'],
        Resource: objects(d.s3.write),
      });
    }
    if (d.s3.delete.length > 0) statements.push({ Sid: 'DeleteVideos', Effect: 'Allow', Action: 's3:DeleteObject', Resource: objects(d.s3.delete) });
    const listable = [...new Set([...d.s3.read, ...d.s3.write, ...d.s3.delete])].map((p) => `${p}*`);
    // ListBucket turns a missing key into 404 instead of 403; limited to the same prefixes
    statements.push({
      Sid: 'ListVideoPrefixes',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: bucketArn(),
      Condition: { StringLike: { 's3:prefix': listable } },
    });
  }
  if (d.jobLedger) {
    statements.push({
      Sid: 'JobLedger',
      Effect: 'Allow',
      Action: ['dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Resource: tableArn(),
    });
  }
  return statements;
}

function taskRole(d: ServiceDeployment): CfnResource {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: sub(`\${Prefix} ${d.name} at run time: its own topic/queue/storage only, plus telemetry`),
      AssumeRolePolicyDocument: ecsTrust,
      Policies: [{ PolicyName: 'service', PolicyDocument: { Version: '2012-10-17', Statement: taskRoleStatements(d) } }],
    },
  };
}

/**
 * The container health check: the service's /health. The gateway's also reports the services behind it
 * (503 when one is down); restarting the gateway cannot fix that, so for it a 503 still means alive.
 */
function healthCommand(d: ServiceDeployment): string[] {
  const alive = d.public ? '[200, 503].includes(r.status)' : 'r.ok';
  const probe = `fetch('http://127.0.0.1:${d.port}/health').then((r) => process.exit(${alive} ? 0 : 1), () => process.exit(1))`;
  return ['CMD', 'node', '-e', probe];
}

function logConfiguration(d: ServiceDeployment, streamPrefix: string): CfnValue {
  return {
    LogDriver: 'awslogs',
    Options: {
      'awslogs-group': ref(serviceIds.logGroup(d)),
      'awslogs-region': ref('AWS::Region'),
      'awslogs-stream-prefix': streamPrefix,
      // a slow CloudWatch never blocks the app's stdout
      mode: 'non-blocking',
      'max-buffer-size': '25m',
    },
  };
}

function taskDefinition(d: ServiceDeployment): CfnResource {
  const app: Record<string, CfnValue> = {
    Name: appContainer,
    Image: sub('${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${EcrRepository}:${ImageTag}'),
    Essential: true,
    Command: serviceCommand(d.name),
    PortMappings: [{ ContainerPort: d.port, Protocol: 'tcp', Name: 'http' }],
    Environment: Object.entries(serviceEnvironment(d)).map(([Name, Value]) => ({ Name, Value })),
    ...(Object.keys(serviceSecrets(d)).length > 0
      ? { Secrets: Object.entries(serviceSecrets(d)).map(([Name, ValueFrom]) => ({ Name, ValueFrom })) }
      : {}),
    HealthCheck: { Command: healthCommand(d), Interval: 15, Timeout: 5, Retries: 3, StartPeriod: 60 },
    DependsOn: [{ ContainerName: collectorContainer, Condition: 'START' }],
    // the image is read-only at run time; tsx's compile cache and ffmpeg's work files go to /tmp
    ReadonlyRootFilesystem: true,
    MountPoints: [{ SourceVolume: 'tmp', ContainerPath: '/tmp', ReadOnly: false }],
    LinuxParameters: { InitProcessEnabled: true },
    StopTimeout: 30,
    LogConfiguration: logConfiguration(d, d.name),
  };
  const collector: Record<string, CfnValue> = {
    Name: collectorContainer,
    Image: ref('CollectorImage'),
    Essential: true,
    // without a config parameter the image's own ECS config (OTLP in, X-Ray + EMF out) is used
    Command: ifCondition('HasCollectorConfig', noValue, ['--config=/etc/ecs/ecs-default-config.yaml']),
    Secrets: ifCondition(
      'HasCollectorConfig',
      [
        {
          Name: 'AOT_CONFIG_CONTENT',
          ValueFrom: sub('arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${CollectorConfigParameter}'),
        },
      ],
      noValue,
    ),
    // changes with the config's hash, so a new collector config rolls out new tasks
    Environment: [{ Name: 'AOT_CONFIG_VERSION', Value: ref('CollectorConfigVersion') }],
    LogConfiguration: logConfiguration(d, 'adot'),
  };
  const processing = d.name === 'processing';
  return {
    Type: 'AWS::ECS::TaskDefinition',
    Properties: {
      Family: sub(`\${Prefix}-${d.name}`),
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      // processing's size is a parameter (ffmpeg is the heavy part); the others are fixed by the table above
      Cpu: processing ? ref('ProcessingCpu') : String(d.cpu),
      Memory: processing ? ref('ProcessingMemory') : String(d.memory),
      RuntimePlatform: { CpuArchitecture: ref('CpuArchitecture'), OperatingSystemFamily: 'LINUX' },
      ...(processing ? { EphemeralStorage: { SizeInGiB: ref('ProcessingEphemeralStorageGiB') } } : {}),
      ExecutionRoleArn: getAtt(serviceIds.executionRole(d), 'Arn'),
      TaskRoleArn: getAtt(serviceIds.taskRole(d), 'Arn'),
      Volumes: [{ Name: 'tmp' }],
      ContainerDefinitions: [app, collector],
    },
  };
}

function ecsService(d: ServiceDeployment): CfnResource {
  const capacityProvider = d.name === 'processing' ? ref('ProcessingCapacityProvider') : 'FARGATE';
  return {
    Type: 'AWS::ECS::Service',
    DependsOn: 'ClusterCapacityProviders',
    Properties: {
      ServiceName: d.name,
      Cluster: ref('Cluster'),
      TaskDefinition: ref(serviceIds.taskDefinition(d)),
      // no DesiredCount: created with 1, then autoscaling owns it and a stack update never resets it
      CapacityProviderStrategy: [{ CapacityProvider: capacityProvider, Weight: 1 }],
      PlatformVersion: 'LATEST',
      NetworkConfiguration: {
        AwsvpcConfiguration: { AssignPublicIp: 'DISABLED', Subnets: ref('PrivateSubnetIds'), SecurityGroups: [ref(d.securityGroup)] },
      },
      DeploymentConfiguration: { MinimumHealthyPercent: 100, MaximumPercent: 200, DeploymentCircuitBreaker: { Enable: true, Rollback: true } },
      ...(d.public
        ? {
            LoadBalancers: [{ ContainerName: appContainer, ContainerPort: d.port, TargetGroupArn: ref('GatewayTargetGroupArn') }],
            HealthCheckGracePeriodSeconds: 60,
          }
        : {}),
      ...(d.discoverable ? { ServiceRegistries: [{ RegistryArn: getAtt(serviceIds.discovery(d), 'Arn') }] } : {}),
      EnableECSManagedTags: true,
      PropagateTags: 'SERVICE',
      Tags: [{ Key: 'anb:service', Value: d.name }],
    },
  };
}

function scaling(d: ServiceDeployment): Record<string, CfnResource> {
  const target = serviceIds.scalableTarget(d);
  const resources: Record<string, CfnResource> = {
    // no RoleARN: Application Auto Scaling uses its ECS service-linked role
    [target]: {
      Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
      Properties: {
        ServiceNamespace: 'ecs',
        ScalableDimension: 'ecs:service:DesiredCount',
        ResourceId: sub(`service/\${Cluster}/\${${serviceIds.service(d)}.Name}`),
        MinCapacity: ref(serviceIds.minTasks(d)),
        MaxCapacity: ref(serviceIds.maxTasks(d)),
      },
    },
  };
  const policy = (suffix: string, configuration: Record<string, CfnValue>): void => {
    resources[`${pascal(d.name)}${suffix}ScalingPolicy`] = {
      Type: 'AWS::ApplicationAutoScaling::ScalingPolicy',
      Properties: {
        PolicyName: sub(`\${Prefix}-${d.name}-${suffix.toLowerCase()}`),
        PolicyType: 'TargetTrackingScaling',
        ScalingTargetId: ref(target),
        TargetTrackingScalingPolicyConfiguration: { ScaleOutCooldown: 60, ScaleInCooldown: 300, ...configuration },
      },
    };
  };
  if (d.scaling === 'cpu' || d.scaling === 'cpu-and-requests') {
    policy('Cpu', { TargetValue: ref('CpuTargetPercent'), PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } });
  }
  if (d.scaling === 'cpu-and-requests') {
    policy('Requests', {
      TargetValue: ref('GatewayRequestsPerTarget'),
      PredefinedMetricSpecification: { PredefinedMetricType: 'ALBRequestCountPerTarget', ResourceLabel: ref('GatewayRequestCountResourceLabel') },
    });
  }
  if (d.scaling === 'queue-backlog') {
    const queue = queueOfConsumer(d.name);
    if (!queue) throw new Error(`${d.name} scales on its queue backlog but consumes no queue`);
    // backlog per task = visible messages / running tasks (Container Insights), a target-tracking metric math expression
    policy('Backlog', {
      TargetValue: ref('ProcessingBacklogPerTask'),
      CustomizedMetricSpecification: {
        Metrics: [
          {
            Id: 'visible',
            MetricStat: {
              Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: prefixed(queue.name) }] },
              Stat: 'Sum',
            },
            ReturnData: false,
          },
          {
            Id: 'tasks',
            MetricStat: {
              Metric: {
                Namespace: 'ECS/ContainerInsights',
                MetricName: 'RunningTaskCount',
                Dimensions: [
                  { Name: 'ClusterName', Value: ref('Cluster') },
                  { Name: 'ServiceName', Value: getAtt(serviceIds.service(d), 'Name') },
                ],
              },
              Stat: 'Average',
            },
            ReturnData: false,
          },
          { Id: 'backlogPerTask', Label: 'Messages visible per running task', Expression: 'visible / IF(tasks > 0, tasks, 1)', ReturnData: true },
        ],
      },
    });
  }
  return resources;
}

function serviceParameters(): Record<string, CfnParameter> {
  const parameters: Record<string, CfnParameter> = {};
  for (const d of deployments) {
    parameters[serviceIds.minTasks(d)] = { Type: 'Number', Default: 1, MinValue: 1, Description: `Fewest ${d.name} tasks` };
    parameters[serviceIds.maxTasks(d)] = { Type: 'Number', Default: d.maxTasks, MinValue: 1, Description: `Most ${d.name} tasks` };
  }
  return parameters;
}

export const logRetentionDays = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export function servicesTemplate(): CfnTemplate {
  const resources: Record<string, CfnResource> = {
    Cluster: {
      Type: 'AWS::ECS::Cluster',
      Properties: {
        ClusterName: sub('${Prefix}-cluster'),
        // RunningTaskCount (processing's backlog-per-task scaling) comes from Container Insights
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      },
    },
    ClusterCapacityProviders: {
      Type: 'AWS::ECS::ClusterCapacityProviderAssociations',
      Properties: {
        Cluster: ref('Cluster'),
        CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
        DefaultCapacityProviderStrategy: [{ CapacityProvider: 'FARGATE', Weight: 1 }],
      },
    },
    ServiceNamespace: {
      Type: 'AWS::ServiceDiscovery::PrivateDnsNamespace',
      Properties: { Name: sub('${Prefix}.internal'), Vpc: ref('VpcId'), Description: 'Service discovery: <service>.<Prefix>.internal' },
    },
  };
  for (const d of deployments) {
    resources[serviceIds.logGroup(d)] = {
      Type: 'AWS::Logs::LogGroup',
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
      Properties: { LogGroupName: sub(`/ecs/\${Prefix}/${d.name}`), RetentionInDays: ref('LogRetentionDays') },
    };
    resources[serviceIds.executionRole(d)] = executionRole(d);
    resources[serviceIds.taskRole(d)] = taskRole(d);
    resources[serviceIds.taskDefinition(d)] = taskDefinition(d);
    if (d.discoverable) {
      resources[serviceIds.discovery(d)] = {
        Type: 'AWS::ServiceDiscovery::Service',
        Properties: {
          Name: d.name,
          NamespaceId: getAtt('ServiceNamespace', 'Id'),
          DnsConfig: { RoutingPolicy: 'MULTIVALUE', DnsRecords: [{ Type: 'A', TTL: 10 }] },
          // ECS reports task health to Cloud Map; unhealthy tasks leave DNS
          HealthCheckCustomConfig: { FailureThreshold: 1 },
        },
      };
    }
    resources[serviceIds.service(d)] = ecsService(d);
    Object.assign(resources, scaling(d));
  }

  const outputs: Record<string, { Description: string; Value: CfnValue }> = {
    ClusterName: { Description: 'ECS cluster', Value: ref('Cluster') },
    ServiceNamespaceName: { Description: 'Cloud Map namespace the services resolve each other in', Value: sub('${Prefix}.internal') },
  };
  for (const d of deployments) {
    outputs[`${pascal(d.name)}ServiceName`] = { Description: `ECS service of ${d.name}`, Value: getAtt(serviceIds.service(d), 'Name') };
    outputs[`${pascal(d.name)}LogGroupName`] = { Description: `Logs of ${d.name} (app + collector)`, Value: ref(serviceIds.logGroup(d)) };
  }

  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'ANB Rising Stars compute: ECS Fargate cluster, one service per microservice with an ADOT collector sidecar, Cloud Map ' +
      'discovery, least-privilege roles derived from the messaging topology, autoscaling (generated by infra/src/cfn/services.ts)',
    Parameters: {
      Prefix: {
        Type: 'String',
        Description: 'Environment prefix of every resource name',
        AllowedPattern: '^[a-z][a-z0-9-]{1,19}$',
        ConstraintDescription: '2-20 lowercase letters, digits or dashes, starting with a letter',
      },
      VpcId: { Type: 'AWS::EC2::VPC::Id', Description: 'VPC of the Cloud Map namespace' },
      PrivateSubnetIds: { Type: 'List<AWS::EC2::Subnet::Id>', Description: 'Private subnets the tasks run in (two AZs)' },
      GatewaySecurityGroupId: { Type: 'AWS::EC2::SecurityGroup::Id', Description: 'Security group of the gateway tasks (reachable from the ALB)' },
      BackendSecurityGroupId: { Type: 'AWS::EC2::SecurityGroup::Id', Description: 'Security group of the other tasks (reachable from the gateway)' },
      GatewayTargetGroupArn: { Type: 'String', Description: 'ALB target group the gateway tasks register in' },
      GatewayRequestCountResourceLabel: { Type: 'String', Description: 'app/<alb>/<id>/targetgroup/<tg>/<id>, for ALBRequestCountPerTarget scaling' },
      EcrRepository: { Type: 'String', Description: 'ECR repository of the service image (this account and region)' },
      ImageTag: { Type: 'String', Description: 'Image tag to run (deploy.sh uses the git commit)' },
      CpuArchitecture: { Type: 'String', Default: 'X86_64', AllowedValues: ['X86_64', 'ARM64'], Description: 'Must match the platform the image was built for' },
      DatabaseEndpoint: { Type: 'String', Description: 'RDS endpoint address' },
      DatabasePort: { Type: 'String', Default: '5432', Description: 'RDS port' },
      DatabaseName: { Type: 'String', Default: 'anb', Description: 'Database holding one schema per service' },
      DatabaseSecretArn: { Type: 'String', Description: 'Secrets Manager secret with the JSON keys username and password' },
      JwtPrivateKeySecretArn: { Type: 'String', Description: 'Secrets Manager secret holding auth’s JWT signing key (PKCS8 PEM, RSA-2048 or Ed25519; deploy.sh creates it)' },
      CollectorImage: {
        Type: 'String',
        Default: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.47.0',
        Description: 'ADOT collector sidecar image',
      },
      CollectorConfigParameter: {
        Type: 'String',
        Default: '',
        AllowedPattern: '^$|^/[a-zA-Z0-9_.\\-/]+$',
        Description: 'SSM parameter (name starting with /) holding observability/collector/adot-config.yaml; empty: the image’s ECS default config',
      },
      CollectorConfigVersion: { Type: 'String', Default: 'default', Description: 'Hash of the collector config; a new value rolls the tasks' },
      LogRetentionDays: { Type: 'Number', Default: 30, AllowedValues: logRetentionDays, Description: 'CloudWatch Logs retention' },
      LogLevel: { Type: 'String', Default: 'info', AllowedValues: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], Description: 'Service log level' },
      ProcessingConcurrency: { Type: 'Number', Default: 1, MinValue: 1, MaxValue: 16, Description: 'Videos one processing task encodes at once (encodes are CPU-bound: about one per vCPU)' },
      FfmpegPreset: {
        Type: 'String',
        Default: 'veryfast',
        AllowedValues: ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'],
        Description: 'x264 preset: speed against file size',
      },
      ProcessingCpu: { Type: 'String', Default: String(deployment('processing').cpu), AllowedValues: ['512', '1024', '2048', '4096'], Description: 'Processing task CPU units' },
      ProcessingMemory: {
        Type: 'String',
        Default: String(deployment('processing').memory),
        AllowedValues: ['1024', '2048', '3072', '4096', '8192'],
        Description: 'Processing task memory (MiB; must be valid for ProcessingCpu)',
      },
      ProcessingEphemeralStorageGiB: { Type: 'Number', Default: 30, MinValue: 21, MaxValue: 200, Description: 'Scratch disk for ffmpeg (originals + output)' },
      ProcessingCapacityProvider: {
        Type: 'String',
        Default: 'FARGATE',
        AllowedValues: ['FARGATE', 'FARGATE_SPOT'],
        Description: 'FARGATE_SPOT is ~70% cheaper; an interrupted job is retried through SQS and the job ledger lease',
      },
      CpuTargetPercent: { Type: 'Number', Default: 60, MinValue: 10, MaxValue: 90, Description: 'Average CPU the CPU-scaled services aim at' },
      GatewayRequestsPerTarget: { Type: 'Number', Default: 1000, MinValue: 10, Description: 'ALB requests per gateway task per minute' },
      ProcessingBacklogPerTask: { Type: 'Number', Default: 4, MinValue: 1, Description: 'Queued videos per processing task before scaling out' },
      ...serviceParameters(),
    },
    Conditions: { HasCollectorConfig: notEmpty('CollectorConfigParameter') },
    Resources: resources,
    Outputs: outputs,
  };
}
