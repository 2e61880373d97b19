/** Webhooks: `State.StateChange` callbacks through a durable outbox (docs/webhooks.md). */
export { WebhookDispatcher, type AttemptRecord, type DispatcherState, type WebhookDispatcherInit, type WebhookStats } from './dispatcher.js';
export { Action, Reason, CALLBACK_COMMAND, REST_PLATFORM, callbackUrl, clientIP, formatStateChange, type FormattedCallback, type StateChangeBody } from './format.js';
export { DEFAULT_WEBHOOK_OPTIONS, backoffDelay, resolveWebhookOptions, webhookOptionsFromEnv, type WebhookOptions } from './options.js';
export { EGRESS_REFUSED, EgressPolicy, EgressRefusedError, egressAgents, errorClass, parseCidr, publicError, type Cidr, type EgressAgents, type Resolver } from './egress.js';
export { Leadership, type LeadershipInit, type LeaseSession } from './leadership.js';
export { MemoryOutbox, SqlOutbox, outboxFor, type DeadLetter, type OutboxBackend, type OutboxOp, type OutboxRow, type OutboxStatus } from './outbox.js';
export { ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody, verifySignature, type VerifyInput } from './signature.js';
