export { StreamLease, type LeaseOptions, type LeaseHandlers, type LeaseEvent, type LeaseSummary, type StartOrder, type StopReason } from './lease';
export { assignOrphans, compareClaims, topicLevel, type ClaimRecord, type StateRecord, type StreamRequest, type WorkerRecord } from './records';
