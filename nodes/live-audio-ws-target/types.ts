import type { Node } from 'node-red';
import type { ConnectionMode, ConnectionOptions } from '../../lib/ws';

export interface TargetCredentials {
  /** JSON array of {name, value} */
  headers?: string;
  authorization?: string;
  /** JSON of UrlSecrets (lib/ws/url-secrets): the URL's userinfo and secret query values */
  urlSecrets?: string;
}

/** What a live-audio-ws-target config node offers the nodes that use it. */
export interface WsTargetNode extends Node<TargetCredentials> {
  /** Connection options for the engine (lib/ws), headers included. */
  options(): ConnectionOptions & { mode: ConnectionMode };
  /** set when the target's configuration cannot run (translated); nodes using it refuse with it */
  configError?: Error;
}
