// Reads one standard base64 V2 compressed histogram per stdin line ("HISTF..."), prints for each
// "total v1 v2 ..." : Java HdrHistogram's getValueAtPercentile at the levels given as arguments.
// Run with the single-file launcher: java -cp hdrhistogram.jar HdrPercentiles.java 50 99 99.9
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.Base64;
import org.HdrHistogram.Histogram;

public class HdrPercentiles {
    public static void main(String[] args) throws Exception {
        double[] levels = new double[args.length];
        for (int i = 0; i < args.length; i++) levels[i] = Double.parseDouble(args[i]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        StringBuilder out = new StringBuilder();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            line = line.trim();
            if (line.isEmpty()) continue;
            ByteBuffer buf = ByteBuffer.wrap(Base64.getDecoder().decode(line));
            Histogram h = Histogram.decodeFromCompressedByteBuffer(buf, 0);
            out.append(h.getTotalCount());
            for (double p : levels) out.append(' ').append(h.getValueAtPercentile(p));
            out.append('\n');
        }
        System.out.print(out);
    }
}
