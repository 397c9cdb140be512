// What Bio-Formats decodes: SHA-1 of the top-left window (at most 512x512) of the
// first and last plane of every series and resolution, one JSON line per file.
//
// Run by scripts/record_bioformats.py --pixels (single-file source launch, no build):
//   java -cp bioformats_package.jar scripts/BfPixels.java FILE...
// The bytes are Bio-Formats' openBytes(): its byte order (little_endian) and, for RGB,
// its sample layout (interleaved) are recorded so ometiff's planes can be laid out the
// same way before hashing.

import java.security.MessageDigest;
import loci.common.DebugTools;
import loci.formats.ImageReader;

public class BfPixels {
  static final int WINDOW = 512;

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      if (ch == '"' || ch == '\\') {
        b.append('\\').append(ch);
      } else if (ch < 0x20) {
        b.append(String.format("\\u%04x", (int) ch));
      } else {
        b.append(ch);
      }
    }
    return b.append('"').toString();
  }

  static String sha1(byte[] data) throws Exception {
    byte[] d = MessageDigest.getInstance("SHA-1").digest(data);
    StringBuilder b = new StringBuilder();
    for (byte x : d) {
      b.append(String.format("%02x", x));
    }
    return b.toString();
  }

  static String describe(ImageReader r) throws Exception {
    StringBuilder sb = new StringBuilder("[");
    for (int s = 0; s < r.getSeriesCount(); s++) {
      r.setSeries(s);
      if (s > 0) sb.append(',');
      sb.append("{\"little_endian\":").append(r.isLittleEndian())
        .append(",\"interleaved\":").append(r.isInterleaved())
        .append(",\"rgb_channels\":").append(r.getRGBChannelCount())
        .append(",\"resolutions\":[");
      for (int res = 0; res < r.getResolutionCount(); res++) {
        r.setResolution(res);
        int w = Math.min(WINDOW, r.getSizeX());
        int h = Math.min(WINDOW, r.getSizeY());
        int n = r.getImageCount();
        int[] planes = n > 1 ? new int[] {0, n - 1} : new int[] {0};
        if (res > 0) sb.append(',');
        sb.append("{\"size_x\":").append(r.getSizeX()).append(",\"size_y\":").append(r.getSizeY())
          .append(",\"window\":[").append(h).append(',').append(w).append("],\"planes\":[");
        for (int k = 0; k < planes.length; k++) {
          int[] zct = r.getZCTCoords(planes[k]);
          byte[] bytes = r.openBytes(planes[k], 0, 0, w, h);
          if (k > 0) sb.append(',');
          sb.append("{\"z\":").append(zct[0]).append(",\"c\":").append(zct[1])
            .append(",\"t\":").append(zct[2]).append(",\"sha1\":\"").append(sha1(bytes))
            .append("\"}");
        }
        sb.append("]}");
      }
      sb.append("]}");
    }
    return sb.append(']').toString();
  }

  public static void main(String[] args) throws Exception {
    DebugTools.setRootLevel("ERROR");
    for (String path : args) {
      String line;
      ImageReader r = new ImageReader();
      r.setFlattenedResolutions(false);
      try {
        r.setId(path);
        line = "{\"file\":" + quote(path) + ",\"series\":" + describe(r) + "}";
      } catch (Throwable e) {
        line = "{\"file\":" + quote(path) + ",\"error\":" + quote(String.valueOf(e)) + "}";
      } finally {
        try {
          r.close();
        } catch (Exception e) {
          // nothing to release
        }
      }
      System.out.println(line);
      System.out.flush();
    }
  }
}
