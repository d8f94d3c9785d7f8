export * from './catalogue.js';
export * from './shop.js';
export * from './tools.js';
