package engine

import (
	"crypto/rand"
	"math/big"
)

// Docker-style generated names: adjective_surname.
var (
	nameLeft = []string{
		"admiring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "brave",
		"busy", "charming", "clever", "cool", "dazzling", "determined", "eager", "ecstatic",
		"elegant", "epic", "festive", "focused", "friendly", "gallant", "gifted", "happy",
		"hopeful", "jolly", "keen", "kind", "loving", "modest", "nice", "optimistic",
		"peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "tender", "vigilant",
		"wizardly", "youthful", "zealous", "zen",
	}
	nameRight = []string{
		"agnesi", "albattani", "archimedes", "babbage", "bohr", "curie", "darwin", "dijkstra",
		"einstein", "euclid", "euler", "fermat", "feynman", "galileo", "gauss", "hamilton",
		"hopper", "hypatia", "kepler", "knuth", "lamarr", "leakey", "lovelace", "mcclintock",
		"meitner", "newton", "noether", "pascal", "poincare", "ritchie", "shannon", "sinoussi",
		"tesla", "thompson", "torvalds", "turing", "wiles", "wozniak", "yalow",
	}
)

func pick(list []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	if err != nil {
		panic(err)
	}
	return list[n.Int64()]
}

// randomName returns a Docker-style name; retry adds a digit, as Docker
// does after a collision.
func randomName(retry int) string {
	name := pick(nameLeft) + "_" + pick(nameRight)
	if retry > 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(10))
		name += n.String()
	}
	return name
}
