export * from './signalling';
export * from './sdp';
export * from './reorder';
export * from './opus';
export * from './stream';
export * from './whep-in';
export { installFastRtpParsing, uninstallFastRtpParsing } from './werift-rtp';
export { installFastSrtp, uninstallFastSrtp } from './werift-srtp';
export { setShortRtpRoute } from './werift-route';
