export {
  BulkAdmin,
  type BulkFailure,
  type BulkOptions,
  type BulkOutcome,
  type BulkProgress,
  type BulkReport,
  BulkRunError,
  type BulkStreamEnd,
  type BulkStreams,
} from "./api/bulk.js";
export { createPodClient, type PodClient } from "./api/client.js";
export { type ListUsersOptions, type LookupOptions, UserAdmin } from "./api/users.js";
export { DEFAULT_MAX_ANSWER_BYTES } from "./core/answer-body.js";
export type { SessionTokenContext, SessionTokenProvider } from "./core/auth.js";
export { type BdkConfigOptions, loadBdkConfig } from "./core/bdk-config.js";
export type { CallOptions } from "./core/call-options.js";
export { type CertificateAuthenticationOptions, certificateAuthentication } from "./core/certificate-auth.js";
export type { PodClientOptions } from "./core/client.js";
export type { ClientCertificate, ConnectionOptions, ProxyOption, ProxySettings } from "./core/connection.js";
export type { ConnectionFailureKind } from "./core/connection-failure.js";
export {
  type CircuitBreakerName,
  PodApiError,
  type PodApiErrorDetails,
  PodBadRequestError,
  PodError,
  PodForbiddenError,
  PodNetworkError,
  PodNotFoundError,
  PodRateLimitError,
  PodServerError,
  PodUnauthorizedError,
  ValidationError,
} from "./core/errors.js";
export type { UserId } from "./core/ids.js";
export { type Logger, type LogLevel, POD_LOG_EVENTS, type PodLogEvent } from "./core/log.js";
export type { PodPaths } from "./core/paths.js";
export type { FlowControlStats, RateLimitOptions } from "./core/rate-limiter.js";
export { DEFAULT_RETRY, type RetryOptions } from "./core/retry.js";
export {
  AuthenticationError,
  type RsaAuthenticationOptions,
  readPrivateKeyFile,
  rsaAuthentication,
} from "./core/rsa-auth.js";
export type { FetchLike } from "./core/transport.js";
export type {
  AppEntitlement,
  AppEntitlementPatch,
  AppEntitlementSetting,
  AppPatchItem,
  AppProduct,
  AppReplaceItem,
} from "./operations/apps.js";
export type { DelegateAction, DelegateUpdate, DelegateUpdateItem } from "./operations/delegates.js";
export type { FeatureEntitlement, FeatureUpdateItem } from "./operations/features.js";
export type { UserStatus, UserStatusItem, UserStatusUpdate } from "./operations/status.js";
export type { PodUser, UserLookup, UserQuery } from "./operations/users.js";
