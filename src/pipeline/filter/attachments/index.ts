// What the rest of the gateway uses of the attachment checks: the stage, the rule sets
// (store, lookup, evaluation) and the shared per-message file inspection.
export { attachmentStage, type AttachmentStageOptions } from './stage.ts';
export { FileRuleSetStore, type FileRuleSetStoreOptions } from './rule-set-store.ts';
export { evaluateFileRuleSet, matchFileRule, normaliseFileRule, FILE_RULE_KINDS, type FileRule, type FileRuleSet, type FileRuleSetLookup, type FileRuleKind, type FileRuleAction } from './rules.ts';
export { DEFAULT_FILE_RULE_SET, DEFAULT_RULE_SET_NAME } from './default-rules.ts';
export { messageInspection, parsedEmail, shareParsedEmail } from './message-cache.ts';
export { inspectEmail, DEFAULT_INSPECT_LIMITS, type InspectedFile, type MessageInspection, type InspectLimits, type ArchiveCondition } from './inspect.ts';
