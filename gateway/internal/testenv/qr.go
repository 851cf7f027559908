package testenv

import (
	"bytes"
	"fmt"
	"image/png"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
)

// FindQR finds and reads the QR code in a PNG as a ZXing detector does (the kind of scanner
// an installer's phone runs).
func FindQR(pic []byte) (string, error) {
	return decodeQR(pic, gozxing.DecodeHintType_TRY_HARDER)
}

// ScanQR reads the QR code in a PNG that shows it alone (a screenshot of the installer's
// code, or the PNG the gateway serves). FindQR looks for it first; the detector misses about
// one code in 300 (httpapi's TestProvisioningQRCodesAreFound holds the gateway's codes to
// that), and then the picture is read as the code alone.
func ScanQR(pic []byte) (string, error) {
	text, err := FindQR(pic)
	if err != nil {
		return decodeQR(pic, gozxing.DecodeHintType_PURE_BARCODE)
	}
	return text, nil
}

func decodeQR(pic []byte, hint gozxing.DecodeHintType) (string, error) {
	img, err := png.Decode(bytes.NewReader(pic))
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{hint: true})
	if err != nil {
		return "", fmt.Errorf("qr: %w", err)
	}
	return res.GetText(), nil
}
