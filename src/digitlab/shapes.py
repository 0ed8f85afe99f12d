"""The shape of digitlab's digits: 28×28 grayscale images read into ten classes.

The one copy of these numbers; everything that means "an MNIST image" or "one answer per digit"
imports them from here. Imports nothing, so any module may.
"""

IMAGE_SIDE = 28  # an image is IMAGE_SIDE × IMAGE_SIDE pixels
IMAGE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE)
N_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # 784: a flattened image, row-major, is a network's input
N_CLASSES = 10  # the digits 0-9: a network's outputs
