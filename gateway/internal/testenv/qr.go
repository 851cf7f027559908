package testenv

import (
	"bytes"
	"fmt"
	"image/png"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
)

// ScanQR reads the QR code in a PNG that shows it alone (a screenshot of the installer's
// code, or the PNG the gateway serves). A ZXing detector looks for it first; it misses about
// one code in 300 (httpapi's TestProvisioningQRCodesAreFound holds the gateway's codes to
// that), and then the picture is read as the code alone.
func ScanQR(pic []byte) (string, error) {
	img, err := png.Decode(bytes.NewReader(pic))
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		if res, err = gzqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}); err != nil {
			return "", fmt.Errorf("qr: %w", err)
		}
	}
	return res.GetText(), nil
}
