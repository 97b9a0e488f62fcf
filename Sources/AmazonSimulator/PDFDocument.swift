import Foundation

/// A minimal, valid PDF of pages of text lines in Helvetica: enough for a shipping label, an invoice or a sheet of
/// box labels that any PDF reader opens and whose text (tracking id, amounts, box ids) tools can extract.
struct PDFDocument {
    /// Each page's lines; the first line of a page is set larger.
    var pages: [[String]]
    /// Page size in points; A6 (a shipping label) by default.
    var width = 298
    var height = 420

    /// A one-page document.
    init(lines: [String], width: Int = 298, height: Int = 420) {
        self.init(pages: [lines], width: width, height: height)
    }

    init(pages: [[String]], width: Int = 298, height: Int = 420) {
        self.pages = pages.isEmpty ? [[]] : pages
        self.width = width
        self.height = height
    }

    func render() -> Data {
        // Objects: 1 catalog, 2 page tree, 3 font, then a page and its contents for each page.
        let pageNumbers = pages.indices.map { 4 + 2 * $0 }
        var objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [\(pageNumbers.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pages.count) >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        for (index, lines) in pages.enumerated() {
            var content = "BT /F1 10 Tf 14 TL 20 \(height - 30) Td\n"
            for (number, line) in lines.enumerated() {
                let size = number == 0 ? 14 : 10
                content += "/F1 \(size) Tf (\(Self.escape(line))) Tj T*\n"
            }
            content += "ET"
            objects.append(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(width) \(height)] /Resources << /Font << /F1 3 0 R >> >> /Contents \(pageNumbers[index] + 1) 0 R >>"
            )
            objects.append("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream")
        }
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
