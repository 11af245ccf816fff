export * from './signalling';
export * from './sdp';
export * from './reorder';
export * from './opus';
export * from './stream';
export * from './whep-in';
// the werift layer's report and its late fallbacks (the on/off switches are bench/'s alone:
// lib/whep/werift/bench-switches.ts)
export { install as installWeriftLayer, onWeriftFallback, FAST_PATHS, TESTED_WERIFT, type FastPath, type WeriftFallback, type WeriftLayerReport } from './werift';
