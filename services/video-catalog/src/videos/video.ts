import type { EventData } from '@anb/contracts';

/**
 * The video slice. A video's stream `video:<id>` holds the catalog's own decisions about it:
 * uploaded, published (once processing succeeded), deleted. What processing reports arrives in the
 * inbox and feeds the read model; the stream only needs what the rules below depend on.
 */
export type VideoUploaded = { readonly type: 'VideoUploaded'; readonly data: EventData<'VideoUploaded'> };
export type VideoPublished = { readonly type: 'VideoPublished'; readonly data: EventData<'VideoPublished'> };
export type VideoDeleted = { readonly type: 'VideoDeleted'; readonly data: EventData<'VideoDeleted'> };
export type VideoEvent = VideoUploaded | VideoPublished | VideoDeleted;

export type Video =
  | { readonly status: 'none' }
  | { readonly status: 'uploaded' | 'published' | 'deleted'; readonly videoId: string; readonly ownerId: string; readonly title: string };

export const initialState = (): Video => ({ status: 'none' });

export function evolve(state: Video, event: VideoEvent): Video {
  switch (event.type) {
    case 'VideoUploaded':
      return { status: 'uploaded', videoId: event.data.videoId, ownerId: event.data.ownerId, title: event.data.title };
    case 'VideoPublished':
      return state.status === 'none' ? state : { ...state, status: 'published' };
    case 'VideoDeleted':
      return state.status === 'none' ? state : { ...state, status: 'deleted' };
    default: {
      const never: never = event;
      return never;
    }
  }
}

export const videoStream = (videoId: string) => `video:${videoId}`;
export const originalKey = (videoId: string) => `originals/${videoId}.mp4`;
export const processedKey = (videoId: string) => `processed/${videoId}.mp4`;
