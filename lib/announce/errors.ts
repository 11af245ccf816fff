/** Errors the announcer reports to users (texts under errors.announce.* in the tts-rtsp-out catalogs). */
import { CodedError } from '../util/errors';

export class AnnounceError extends CodedError {
  override name = 'AnnounceError';
}
