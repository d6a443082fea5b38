/** The defaults of a simulated pod that are part of the API: the feature names and the session token. */

/**
 * The feature names `GET /v1/admin/system/features/list` answers when `availableFeatures` is not given: the usual
 * Symphony user entitlements.
 *
 * @example
 * ```ts
 * const pod = await startSimulatedPod({ availableFeatures: [...DEFAULT_AVAILABLE_FEATURES, "myCustomFeature"] });
 * ```
 */
export const DEFAULT_AVAILABLE_FEATURES: readonly string[] = Object.freeze([
  "postReadEnabled",
  "postWriteEnabled",
  "delegatesEnabled",
  "isExternalIMEnabled",
  "canShareFilesExternally",
  "canCreatePublicRoom",
  "canUpdateAvatar",
  "isExternalRoomEnabled",
  "canCreatePushedSignals",
  "canUseCompactMode",
  "mustBeRecorded",
  "sendFilesEnabled",
  "canUseInternalAudio",
  "canUseInternalVideo",
  "canProjectInternalScreenShare",
  "canViewInternalScreenShare",
  "canCreateMultiLateralRoom",
  "canJoinMultiLateralRoom",
  "canUseFirehose",
  "canUseInternalAudioMobile",
  "canUseInternalVideoMobile",
  "canProjectInternalScreenShareMobile",
  "canViewInternalScreenShareMobile",
  "canManageSignalSubscription",
]);

/**
 * The session token a simulated pod accepts when none is given.
 *
 * @example
 * ```ts
 * const client = createPodClient({ baseUrl: pod.url, sessionToken: DEFAULT_SIMULATOR_TOKEN });
 * ```
 */
export const DEFAULT_SIMULATOR_TOKEN = "simulated-session-token";
