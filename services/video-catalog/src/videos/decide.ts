import type { Decider } from '@anb/platform';
import { evolve, initialState, originalKey, type Video, type VideoEvent } from './video';

type Meta = { readonly now: Date };

export type RegisterUpload = {
  readonly type: 'RegisterUpload';
  readonly data: {
    readonly videoId: string;
    readonly ownerId: string;
    readonly title: string;
    readonly sizeBytes: number;
    readonly durationSeconds: number;
    readonly width: number;
    readonly height: number;
  };
  readonly metadata: Meta;
};
export type PublishVideo = { readonly type: 'PublishVideo'; readonly data: { readonly videoId: string; readonly processedKey: string }; readonly metadata: Meta };
export type DeleteVideo = { readonly type: 'DeleteVideo'; readonly data: { readonly videoId: string; readonly requestedBy: string }; readonly metadata: Meta };
export type VideoCommand = RegisterUpload | PublishVideo | DeleteVideo;

/** Business-rule violations; the HTTP layer maps each to a status in one place. */
export class VideoNotFound extends Error {
  override readonly name = 'VideoNotFound';
}
export class NotVideoOwner extends Error {
  override readonly name = 'NotVideoOwner';
}
export class VideoAlreadyPublished extends Error {
  override readonly name = 'VideoAlreadyPublished';
}
export class VideoAlreadyExists extends Error {
  override readonly name = 'VideoAlreadyExists';
}

export function decide(command: VideoCommand, state: Video): VideoEvent[] {
  const at = command.metadata.now.toISOString();
  switch (command.type) {
    case 'RegisterUpload': {
      if (state.status !== 'none') throw new VideoAlreadyExists(command.data.videoId);
      const d = command.data;
      return [
        {
          type: 'VideoUploaded',
          data: {
            videoId: d.videoId,
            ownerId: d.ownerId,
            title: d.title,
            originalKey: originalKey(d.videoId),
            sizeBytes: d.sizeBytes,
            durationSeconds: d.durationSeconds,
            width: d.width,
            height: d.height,
            uploadedAt: at,
          },
        },
      ];
    }
    case 'PublishVideo':
      // a late or repeated success changes nothing: published once, and never after a deletion
      if (state.status !== 'uploaded') return [];
      return [
        {
          type: 'VideoPublished',
          data: { videoId: state.videoId, ownerId: state.ownerId, title: state.title, processedKey: command.data.processedKey, publishedAt: at },
        },
      ];
    case 'DeleteVideo':
      if (state.status === 'none' || state.status === 'deleted') throw new VideoNotFound(command.data.videoId);
      if (state.ownerId !== command.data.requestedBy) throw new NotVideoOwner(command.data.videoId);
      if (state.status === 'published') throw new VideoAlreadyPublished(command.data.videoId);
      return [{ type: 'VideoDeleted', data: { videoId: state.videoId, ownerId: state.ownerId, deletedAt: at } }];
    default: {
      const never: never = command;
      throw new Error(`unknown command ${(never as { type: string }).type}`);
    }
  }
}

export const videoDecider: Decider<Video, VideoCommand, VideoEvent> = { decide, evolve, initialState };
