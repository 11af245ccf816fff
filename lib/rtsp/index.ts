export * from './output';
export { RTSP_CODECS } from './codecs';
export { encodeUlaw, encodeAlaw, decodeUlaw, decodeAlaw } from './g711';
export { parseRtp } from './rtp';
