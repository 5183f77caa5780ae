/** voting's PostgreSQL schema: its event store, inbox, projection registry and read models. */
export const votingSchema = 'voting';
