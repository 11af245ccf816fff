export * from './frame';
export * from './queue';
export * from './connection';
export * from './sender';
