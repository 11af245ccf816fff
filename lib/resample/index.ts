export * from './design';
export * from './resampler';
export * from './measure';
export * from './streams';
export * from './once';
