export type { SessionTokenContext, SessionTokenProvider } from "./auth.js";
export {
  type AppPatchItem,
  type AppReplaceItem,
  BulkAdmin,
  type BulkFailure,
  type BulkOptions,
  type BulkOutcome,
  type BulkProgress,
  type BulkReport,
  BulkRunError,
  type BulkStreamEnd,
  type BulkStreams,
  type DelegateUpdateItem,
  type FeatureUpdateItem,
} from "./bulk.js";
export { createPodClient, type PodClient, type PodClientOptions, type PodPaths } from "./client.js";
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
} from "./errors.js";
export type { UserId } from "./ids.js";
export type { FlowControlStats, RateLimitOptions } from "./rate-limiter.js";
export { DEFAULT_RETRY, type RetryOptions } from "./retry.js";
export {
  AuthenticationError,
  type RsaAuthenticationOptions,
  readPrivateKeyFile,
  rsaAuthentication,
} from "./rsa-auth.js";
export type { FetchLike } from "./transport.js";
export {
  type AppEntitlement,
  type AppEntitlementPatch,
  type AppEntitlementSetting,
  type AppProduct,
  type CallOptions,
  type DelegateAction,
  type DelegateUpdate,
  type FeatureEntitlement,
  type ListUsersOptions,
  type LookupOptions,
  type PodUser,
  UserAdmin,
  type UserLookup,
  type UserQuery,
} from "./users.js";
