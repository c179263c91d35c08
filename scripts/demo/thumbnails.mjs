// A worker thread of the demo shop: makes the thumbnail of one product image per message. An image
// too large for it ends the thread with an uncaught error; the shop answers 500 and starts another.
import { parentPort } from 'node:worker_threads';

class ImageTooLargeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ImageTooLargeError';
  }
}

function thumbnail(image) {
  const maxSide = 4096;
  const scale = 256 / Math.max(image.width, image.height);
  if (image.width > maxSide) throw new ImageTooLargeError(`image ${image.id} is ${image.width} px wide, over ${maxSide}`);
  return { id: image.id, width: Math.round(image.width * scale), height: Math.round(image.height * scale) }; // demo-thread-breakpoint
}

parentPort.on('message', (image) => parentPort.postMessage(thumbnail(image)));
