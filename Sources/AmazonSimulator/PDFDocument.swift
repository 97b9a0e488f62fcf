import Foundation

/// A minimal, valid PDF with one page of text lines in Helvetica: enough for a shipping label or an invoice that
/// any PDF reader opens and whose text (tracking id, amounts) tools can extract.
struct PDFDocument {
    var lines: [String]
    /// Page size in points; A6 (a shipping label) by default.
    var width = 298
    var height = 420

    func render() -> Data {
        var content = "BT /F1 10 Tf 14 TL 20 \(height - 30) Td\n"
        for (index, line) in lines.enumerated() {
            let size = index == 0 ? 14 : 10
            content += "/F1 \(size) Tf (\(Self.escape(line))) Tj T*\n"
        }
        content += "ET"
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(width) \(height)] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream",
        ]
        var output = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(output.utf8.count)
            output += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = output.utf8.count
        output += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets {
            output += String(repeating: "0", count: 10 - String(offset).count) + "\(offset) 00000 n \n"
        }
        output += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(output.utf8)
    }

    /// Escapes PDF string delimiters and keeps to ASCII, which the standard Helvetica encoding can show.
    private static func escape(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "(": result += "\\("
            case ")": result += "\\)"
            case _ where scalar.isASCII && scalar.value >= 32: result.unicodeScalars.append(scalar)
            default: result += "?"
            }
        }
        return result
    }
}

/// A ZPL II label for thermal printers, carrying the same text and the tracking id as a Code 128 barcode.
struct ZPLLabel {
    var lines: [String]
    var trackingID: String

    func render() -> Data {
        var zpl = "^XA\n^CF0,30\n"
        var y = 40
        for line in lines {
            zpl += "^FO40,\(y)^FD\(line.replacingOccurrences(of: "^", with: " "))^FS\n"
            y += 40
        }
        zpl += "^FO40,\(y + 20)^BY3^BCN,120,Y,N,N^FD\(trackingID)^FS\n^XZ\n"
        return Data(zpl.utf8)
    }
}
