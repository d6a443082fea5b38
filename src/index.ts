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
} from "./api/bulk.js";
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
} from "./api/users.js";
export type { SessionTokenContext, SessionTokenProvider } from "./core/auth.js";
export { createPodClient, type PodClient, type PodClientOptions, type PodPaths } from "./core/client.js";
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
export type { RateLimitOptions } from "./core/rate-limiter.js";
export { DEFAULT_RETRY, type RetryOptions } from "./core/retry.js";
export {
  AuthenticationError,
  type RsaAuthenticationOptions,
  readPrivateKeyFile,
  rsaAuthentication,
} from "./core/rsa-auth.js";
export type { FetchLike } from "./core/transport.js";
