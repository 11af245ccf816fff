export * from './design';
export * from './resampler';
export * from './measure';
