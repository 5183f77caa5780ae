import { eventStoreMigrations, type Migration } from '@anb/platform';
import { usersMigration } from './users/usersProjection';

export const authSchema = 'auth';
export const authMigrations: Migration[] = [...eventStoreMigrations(authSchema), usersMigration];
