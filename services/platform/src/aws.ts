import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsSettings {
  AWS_REGION: string;
  AWS_ENDPOINT_URL?: string | undefined;
}

/**
 * Client settings for the real AWS or a local emulator (moto, LocalStack). Against an emulator with
 * no credentials in the environment, fixed local credentials are used so nothing has to be exported.
 */
export function awsClientConfig(settings: AwsSettings) {
  const local = settings.AWS_ENDPOINT_URL !== undefined;
  const hasCredentials = Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE || process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI);
  return {
    region: settings.AWS_REGION,
    ...(local ? { endpoint: settings.AWS_ENDPOINT_URL } : {}),
    ...(local && !hasCredentials ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 4,
  };
}

export function createSnsClient(settings: AwsSettings): SNSClient {
  return new SNSClient(awsClientConfig(settings));
}
export function createSqsClient(settings: AwsSettings): SQSClient {
  return new SQSClient(awsClientConfig(settings));
}
