package cli

import (
	"github.com/spf13/cobra"
)

// addImageCommands adds "image ..." and docker's top-level shortcuts
// (pull, push, images, rmi, tag, save, load, import, history).
func addImageCommands(root *cobra.Command, g *globals) {
	img := &cobra.Command{Use: "image", Short: "Manage images"}
	img.AddCommand(
		newPullCmd(g, "pull"), newPushCmd(g, "push"), newImagesCmd(g, "ls"),
		newInspectCmd(g), newHistoryCmd(g, "history"), newTagCmd(g, "tag"),
		newRmiCmd(g, "rm"), newPruneCmd(g), newSaveCmd(g, "save"),
		newLoadCmd(g, "load"), newImportCmd(g, "import"),
	)
	root.AddCommand(img,
		newPullCmd(g, "pull"), newPushCmd(g, "push"), newImagesCmd(g, "images"),
		newRmiCmd(g, "rmi"), newTagCmd(g, "tag"), newSaveCmd(g, "save"),
		newLoadCmd(g, "load"), newImportCmd(g, "import"), newHistoryCmd(g, "history"),
	)
}
