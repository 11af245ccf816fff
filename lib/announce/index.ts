export * from './types';
export * from './errors';
export * from './engines';
export * from './queue';
export * from './pacer';
export * from './announcer';
export * from './audio';
export * from './stream';
