"""Own digit images prepared as MNIST was: polarity, 20-px box, centre of mass at (14, 14)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlab.errors import DataError
from digitlab.images import load_digit_image, load_digit_images, prepare_digit


def centre_of_mass(image):
    """(row, column) centre of mass of a (28, 28) image."""
    mass = image.sum()
    rows, cols = np.arange(image.shape[0]), np.arange(image.shape[1])
    return (image.sum(axis=1) @ rows) / mass, (image.sum(axis=0) @ cols) / mass


def box_size(image):
    """(height, width) of the bounding box of the non-zero pixels."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def check_mnist_like(vector):
    assert vector.shape == (784,) and vector.dtype == np.float32
    assert vector.min() >= 0.0 and vector.max() <= 1.0 and vector.max() > 0.99
    image = vector.reshape(28, 28)
    cy, cx = centre_of_mass(image)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (cy, cx)
    assert max(box_size(image)) == 20, box_size(image)
    return image


RECTANGLES = [
    # (canvas size (w, h), rectangle (x0, y0, x1, y1), mode, ink, paper)
    ((300, 200), (100, 40, 130, 170), "L", 0, 255),  # tall bar, black on white
    ((50, 80), (10, 10, 40, 20), "L", 255, 0),  # wide bar, white on black
    ((12, 12), (3, 3, 5, 9), "RGB", (200, 30, 30), (250, 250, 240)),  # tiny, red on cream
    ((640, 480), (200, 100, 420, 400), "RGB", (20, 20, 90), (230, 230, 230)),  # big, blue
    ((28, 28), (4, 4, 23, 23), "L", 255, 0),  # already a 20x20 square
]


@pytest.mark.parametrize("size,rect,mode,ink,paper", RECTANGLES)
def test_rectangles_become_20px_and_centred(tmp_path, size, rect, mode, ink, paper):
    image = Image.new(mode, size, paper)
    ImageDraw.Draw(image).rectangle(rect, fill=ink)
    path = tmp_path / "digit.png"
    image.save(path)
    result = check_mnist_like(load_digit_image(path))
    # the digit is white on black whatever the input's polarity: the corners are background
    assert result[0, 0] == 0 and result[-1, -1] == 0
    # the aspect ratio is kept: w/h of the drawn rectangle (inclusive coordinates)
    w, h = rect[2] - rect[0] + 1, rect[3] - rect[1] + 1
    bh, bw = box_size(result)
    assert bw / bh == pytest.approx(w / h, rel=0.15, abs=0.06)


def test_off_centre_l_shape_is_centred_by_mass_not_by_box(tmp_path):
    image = Image.new("L", (100, 100), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 10, 30, 90), fill=0)  # a heavy vertical stroke
    draw.rectangle((20, 80, 80, 90), fill=0)  # and a foot to the right
    path = tmp_path / "l.png"
    image.save(path)
    result = check_mnist_like(load_digit_image(path))
    bh, bw = box_size(result)
    cols = np.flatnonzero(result.any(axis=0))
    assert cols[0] + bw / 2 > 14.5  # the box sits right of the centre, the mass does not


def test_jpeg_and_transparent_png(tmp_path):
    jpeg = Image.new("RGB", (200, 200), (255, 255, 255))
    ImageDraw.Draw(jpeg).line((100, 20, 100, 180), fill=(0, 0, 0), width=14)
    jpeg.save(tmp_path / "one.jpg", quality=80)
    check_mnist_like(load_digit_image(tmp_path / "one.jpg"))

    drawing = Image.new("RGBA", (120, 160), (0, 0, 0, 0))  # black strokes on a clear canvas
    ImageDraw.Draw(drawing).ellipse((20, 20, 100, 140), outline=(0, 0, 0, 255), width=12)
    drawing.save(tmp_path / "zero.png")
    zero = check_mnist_like(load_digit_image(tmp_path / "zero.png"))
    assert zero[14, 14] == 0  # the hole of the 0 stays empty
    assert load_digit_images([tmp_path / "one.jpg", tmp_path / "zero.png"]).shape == (2, 784)


def test_an_opaque_canvas_reads_as_its_colours_alone_and_a_translucent_one_almost(tmp_path):
    """A browser's canvas is RGBA with every pixel opaque: read straight from its luminance,
    exactly as the same picture without an alpha channel, and all but equal to the reading of
    the same picture with one pixel not quite opaque (the general formula with α)."""
    sheet = Image.new("RGBA", (140, 140), (255, 255, 255, 255))
    ImageDraw.Draw(sheet).line([(40, 30), (100, 35), (70, 115)], fill=(17, 17, 17, 255),
                               width=11)
    sheet.save(tmp_path / "canvas.png")
    sheet.convert("RGB").save(tmp_path / "colours.png")
    sheet.putpixel((0, 0), (255, 255, 255, 254))
    sheet.save(tmp_path / "almost.png")
    canvas, colours, almost = load_digit_images(
        [tmp_path / "canvas.png", tmp_path / "colours.png", tmp_path / "almost.png"])
    check_mnist_like(canvas)
    assert np.array_equal(canvas, colours)
    np.testing.assert_allclose(canvas, almost, atol=1e-6)


def test_an_mnist_digit_drawn_large_comes_back_as_itself(tmp_path):
    from digitlab.data import load_dataset

    split = load_dataset("mnist-sample").test
    for i in range(5):
        original = split.images[i].reshape(28, 28)
        # print it large and dark on light paper, as a scan would look
        big = Image.fromarray(((1.0 - original) * 255).astype(np.uint8)).resize(
            (280, 280), Image.Resampling.BICUBIC)
        path = tmp_path / f"scan{i}.png"
        big.save(path)
        prepared = load_digit_image(path).reshape(28, 28)
        correlation = np.corrcoef(prepared.ravel(), original.ravel())[0, 1]
        assert correlation > 0.85, (i, correlation)


def test_prepare_digit_accepts_an_array():
    gray = np.zeros((40, 30))
    gray[5:35, 12:18] = 0.7  # faint ink: stretched to 1
    vector = prepare_digit(gray)
    assert vector.max() == pytest.approx(1.0)
    check_mnist_like(vector)


def test_non_image_file_names_the_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    with pytest.raises(DataError, match="notes.png"):
        load_digit_image(path)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match="absent.png"):
        load_digit_image(tmp_path / "absent.png")


@pytest.mark.parametrize("shade", [0, 255, 128])
def test_blank_image_names_the_file(tmp_path, shade):
    path = tmp_path / f"blank{shade}.png"
    Image.new("L", (50, 50), shade).save(path)
    with pytest.raises(DataError, match=f"blank{shade}.png.*blank"):
        load_digit_image(path)


def test_truncated_png_names_the_file(tmp_path):
    path = tmp_path / "cut.png"
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).rectangle((20, 10, 40, 50), fill=255)
    image.save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError, match="cut.png"):
        load_digit_image(path)
