export * from './contract';
export * from './wav';
export * from './chunker';
export * from './stream-table';
export * from './read';
